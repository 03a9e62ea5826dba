"""Bulletin archive: atomic writes, no-op re-runs, revisions, lookups, safe names."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from forecast.bulletin.archive import (
    archive,
    archive_path,
    entries,
    file_name,
    latest,
    previous_bulletin,
)
from forecast.bulletin.examples import example_bulletin, example_previous_bulletin
from forecast.bulletin.json_io import dumps, load_bulletin
from forecast.bulletin.model import BEIJING_TZ, Bulletin, LocalText, UnsafeNameError


@pytest.fixture(scope="module")
def bulletin() -> Bulletin:
    return example_bulletin()


def _all_files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_archive_layout_and_noop_rerun(bulletin: Bulletin, tmp_path: Path) -> None:
    path = archive(bulletin, tmp_path)
    assert path == tmp_path / "2025" / "01" / "wcs-wuchangshi-20250115T1000-2025011500.json"
    assert path.read_bytes() == dumps(bulletin)
    stat = path.stat()
    # identical content: same path, file untouched, no new revision
    assert archive(example_bulletin(), tmp_path) == path
    assert path.stat().st_mtime_ns == stat.st_mtime_ns and path.stat().st_ino == stat.st_ino
    assert _all_files(tmp_path) == ["2025/01/wcs-wuchangshi-20250115T1000-2025011500.json"]


def test_different_content_becomes_a_revision(bulletin: Bulletin, tmp_path: Path) -> None:
    first = archive(bulletin, tmp_path)
    changed = replace(
        bulletin, headline=LocalText("更正：" + bulletin.headline.zh, bulletin.headline.en)
    )
    second = archive(changed, tmp_path)
    assert second.name == "wcs-wuchangshi-20250115T1000-2025011500.r2.json"
    assert json.loads(second.read_text(encoding="utf-8"))["revision"] == 2
    assert load_bulletin(second).headline.zh.startswith("更正：")
    assert load_bulletin(first).revision == 1 and first.read_bytes() == dumps(bulletin)  # untouched
    # re-archiving the correction (whatever revision it claims) is a no-op
    assert archive(changed, tmp_path) == second
    assert archive(load_bulletin(second), tmp_path) == second
    # a third content → r3; returning to the first content is new again (it is now the latest)
    third = archive(bulletin, tmp_path)
    assert third.name.endswith(".r3.json")
    assert [e.revision for e in entries(tmp_path)] == [1, 2, 3]
    # nothing but bulletins: no temporary files left
    assert all(n.endswith(".json") and "/." not in n for n in _all_files(tmp_path))


def test_latest_and_previous(tmp_path: Path) -> None:
    prev, cur = example_previous_bulletin(), example_bulletin()
    assert latest(tmp_path) is None
    archive(cur, tmp_path)
    archive(prev, tmp_path)
    assert latest(tmp_path).id == cur.id  # type: ignore[union-attr]
    assert latest(tmp_path, region="wuchangshi", city="wujiaqu").id == cur.id  # type: ignore[union-attr]
    assert latest(tmp_path, region="elsewhere") is None
    assert latest(tmp_path, city="kashgar") is None
    found = previous_bulletin(tmp_path, before=cur.issue_time)
    assert found is not None and found.id == prev.id
    assert previous_bulletin(tmp_path, before=prev.issue_time) is None
    # the latest revision of the newest bulletin is returned
    corrected = replace(cur, advice=LocalText("更正", "corrected"))
    archive(corrected, tmp_path)
    newest = latest(tmp_path)
    assert newest is not None and newest.revision == 2 and newest.advice.en == "corrected"
    later = datetime(2025, 1, 16, tzinfo=BEIJING_TZ)
    assert previous_bulletin(tmp_path, before=later).revision == 2  # type: ignore[union-attr]


def test_month_folder_is_beijing_month(bulletin: Bulletin, tmp_path: Path) -> None:
    # 31 Jan 2025 20:00 UTC is 1 Feb 04:00 Beijing time → folder 2025/02
    from datetime import timezone

    b = replace(bulletin, issue_time=datetime(2025, 1, 31, 20, tzinfo=timezone.utc))
    b = replace(b, cycle=b.cycle + timedelta(days=16))
    path = archive(b, tmp_path)
    assert path.parent == tmp_path / "2025" / "02"
    assert path.name == "wcs-wuchangshi-20250201T0400-2025013100.json"


def test_unsafe_names_rejected(bulletin: Bulletin, tmp_path: Path) -> None:
    with pytest.raises(UnsafeNameError, match=r"'\.\./\.\./etc'"):
        file_name("../../etc")
    with pytest.raises(UnsafeNameError, match="path separator"):
        archive(replace(bulletin, region="x/../../y"), tmp_path)
    with pytest.raises(UnsafeNameError):
        archive_path(replace(bulletin, region=".."), tmp_path)
    assert _all_files(tmp_path) == []
