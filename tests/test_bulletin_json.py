"""Bulletin JSON: canonical bytes, schema, validation messages with JSON paths."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from forecast.bulletin.examples import example_bulletin
from forecast.bulletin.json_io import (
    SCHEMA_ID,
    BulletinValidationError,
    bulletin_problems,
    dumps,
    from_dict,
    load_bulletin,
    schema,
    to_dict,
    validate_bulletin,
    write_bulletin,
)
from forecast.bulletin.model import Bulletin

SCHEMA_FILE = (
    Path(__file__).resolve().parents[1] / "forecast/data/bulletin/bulletin-1.0.schema.json"
)


@pytest.fixture(scope="module")
def bulletin() -> Bulletin:
    return example_bulletin()


@pytest.fixture
def doc(bulletin: Bulletin) -> dict[str, Any]:
    return json.loads(dumps(bulletin))


def test_schema_is_draft_2020_12_with_id_and_enums() -> None:
    s = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    assert s == schema()
    assert s["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert s["$id"] == SCHEMA_ID and s["$id"].endswith("bulletin-1.0.schema.json")
    assert s["title"] and "issue_time" in s["required"] and "cities" in s["required"]
    assert s["$defs"]["level"]["enum"] == ["none", "blue", "yellow", "orange", "red"]
    assert s["$defs"]["action"]["enum"] == [
        "issue",
        "upgrade",
        "downgrade",
        "maintain",
        "lift",
        "none",
    ]
    assert s["$defs"]["category"]["properties"]["name_zh"]["enum"][-1] == "严重污染"
    assert s["$defs"]["beijing_time"]["format"] == "date-time"


def test_example_validates(bulletin: Bulletin, doc: dict[str, Any]) -> None:
    assert bulletin_problems(doc) == []
    assert validate_bulletin(dumps(bulletin))["id"] == bulletin.id


def test_canonical_bytes(bulletin: Bulletin, tmp_path: Path) -> None:
    data = dumps(bulletin)
    assert data.endswith(b"}\n") and not data.endswith(b"\n\n")
    assert "乌鲁木齐".encode() in data  # ensure_ascii=False, UTF-8
    # same inputs → same bytes (fresh build), and load → dump is byte-identical
    assert dumps(example_bulletin()) == data
    assert dumps(load_bulletin(data)) == data
    # keys sorted at every level, fixed rounding
    doc = json.loads(data)
    assert list(doc) == sorted(doc)
    assert list(doc["cities"][0]) == sorted(doc["cities"][0])
    p50 = doc["cities"][0]["hourly"]["p50"]
    assert all(round(v, 1) == v for v in p50 if v is not None)
    assert any(v != int(v) for v in p50)  # one decimal, not integers
    assert (
        doc["issue_time"] == "2025-01-15T10:00:00+08:00" and doc["cycle"] == "2025-01-15T00:00:00Z"
    )
    # written through the atomic writer: same bytes on disk, no temporary files
    path = write_bulletin(bulletin, tmp_path / "b.json")
    write_bulletin(bulletin, path)
    assert path.read_bytes() == data
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.json"]


def test_roundtrip_equal(bulletin: Bulletin) -> None:
    again = from_dict(to_dict(bulletin))
    assert again.id == bulletin.id
    assert again.city("urumqi").warning == from_dict(to_dict(again)).city("urumqi").warning
    assert again.regional.warning.references == bulletin.regional.warning.references


def _problems(doc: dict[str, Any]) -> str:
    with pytest.raises(BulletinValidationError) as exc:
        validate_bulletin(doc)
    return str(exc.value)


def test_bad_level_names_the_json_path(doc: dict[str, Any]) -> None:
    doc["cities"][0]["warning"]["level"] = "purple"
    msg = _problems(doc)
    assert "$.cities[0].warning.level" in msg and "purple" in msg


def test_missing_field_names_the_json_path(doc: dict[str, Any]) -> None:
    del doc["regional"]["warning"]["certainty"]
    msg = _problems(doc)
    assert "$.regional.warning" in msg and "'certainty' is a required property" in msg


def test_several_problems_reported(doc: dict[str, Any]) -> None:
    bad = copy.deepcopy(doc)
    del bad["issue_time"]
    bad["cities"][1]["daily"][0]["aqi"] = 900
    bad["cities"][2]["warning"]["action"] = "escalate"
    msg = _problems(bad)
    assert "$: 'issue_time' is a required property" in msg
    assert "$.cities[1].daily[0].aqi" in msg
    assert "$.cities[2].warning.action" in msg


def test_wrong_time_zone_rejected(doc: dict[str, Any]) -> None:
    doc["issue_time"] = "2025-01-15T08:00:00+06:00"  # Urumqi local time is not Beijing time
    assert "$.issue_time" in _problems(doc)


def test_bad_date_format_rejected(doc: dict[str, Any]) -> None:
    doc["cities"][0]["hourly"]["times"][3] = "2025-01-15T25:00:00+08:00"
    assert "$.cities[0].hourly.times[3]" in _problems(doc)


def test_semantic_problems_have_paths(doc: dict[str, Any]) -> None:
    bad = copy.deepcopy(doc)
    bad["cities"][0]["hourly"]["p90"].pop()
    msg = _problems(bad)
    assert "$.cities[0] (urumqi)" in msg and "p90" in msg
    bad = copy.deepcopy(doc)
    bad["id"] = "wcs-wuchangshi-20250115T1100-2025011500"
    assert "$.id" in _problems(bad)
    bad = copy.deepcopy(doc)
    bad["cities"][0]["daily"][0]["aqi"] = 50  # category no longer matches the AQI
    assert "$.cities[0] (urumqi)" in _problems(bad)


def test_file_errors_name_the_file(tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text('{"id": ', encoding="utf-8")
    with pytest.raises(BulletinValidationError, match=r"broken\.json: line 1: not valid JSON"):
        validate_bulletin(broken)
    with pytest.raises(BulletinValidationError, match="cannot be read"):
        validate_bulletin(tmp_path / "missing.json")


def test_status_ok_needs_an_hourly_forecast(doc: dict[str, Any]) -> None:
    doc["cities"][0]["hourly"] = None
    assert "$.cities[0].hourly: None is not of type 'object'" in _problems(doc)
    doc["cities"][0]["status"] = "no_forecast"  # allowed without a forecast, with a reason
    doc["cities"][0]["reason"] = ""
    assert "$.cities[0].reason" in _problems(doc)
