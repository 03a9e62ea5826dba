"""``wcs-forecast bulletin validate|render|example`` (parser from forecast.bulletincli)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from forecast.bulletin.examples import example_bulletin
from forecast.bulletin.json_io import BulletinValidationError, dumps
from forecast.bulletincli import add_bulletin_parser, main


@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cli") / "good.json"
    path.write_bytes(dumps(example_bulletin()))
    return path


def test_parser_wires_into_a_parent_cli() -> None:
    parser = argparse.ArgumentParser(prog="wcs-forecast")
    sub = parser.add_subparsers(dest="command", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config")
    add_bulletin_parser(sub, [common])
    args = parser.parse_args(["bulletin", "render", "x.json", "--format", "cap", "--format", "png"])
    assert args.format == ["cap", "png"] and callable(args.func)
    with pytest.raises(SystemExit):
        parser.parse_args(["bulletin", "render", "x.json", "--format", "pdf"])


def test_validate_ok(good: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bulletin", "validate", str(good), str(good)]) == 0
    assert "valid bulletin wcs-wuchangshi-20250115T1000-2025011500" in capsys.readouterr().out


def test_validate_reports_file_and_json_path(
    good: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = json.loads(good.read_text(encoding="utf-8"))
    doc["cities"][2]["warning"]["level"] = "violet"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    assert main(["bulletin", "validate", str(good), str(bad)]) == 3
    err = capsys.readouterr().err
    assert str(bad) in err and "$.cities[2].warning.level" in err and "violet" in err
    assert "1 of 2 file(s) invalid" in err


def test_render_text_to_stdout(good: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bulletin", "render", str(good), "--format", "text"]) == 0
    out = capsys.readouterr().out
    assert "乌鲁木齐" in out and "Urumqi" in out and "Red warning" in out


def test_render_formats_to_folder(good: Path, tmp_path: Path, config_path: Path) -> None:
    out = tmp_path / "out"
    assert main(["bulletin", "render", str(good), "--format", "cap", "--out", str(out),
                 "--status", "Test", "--config", str(config_path)]) == 0  # fmt: skip
    caps = sorted(p.name for p in out.iterdir())
    assert len(caps) == 3 and all(n.endswith(".cap.xml") for n in caps)
    assert b"<status>Test</status>" in (out / caps[0]).read_bytes()
    assert main(["bulletin", "render", str(good), "--format", "html", "--format", "png",
                 "--out", str(out)]) == 0  # fmt: skip
    names = {p.name for p in out.iterdir()}
    assert "wcs-wuchangshi-20250115T1000-2025011500.html" in names
    assert "wcs-wuchangshi-20250115T1000-2025011500.urumqi.png" in names


def test_render_invalid_bulletin_raises_input_error(tmp_path: Path) -> None:
    from forecast.bulletincli import cmd_render

    bad = tmp_path / "bad.json"
    bad.write_text("{}", encoding="utf-8")
    args = argparse.Namespace(file=str(bad), format=["text"], out=None, sender="x@y", status=None)
    with pytest.raises(BulletinValidationError, match="required property"):
        cmd_render(args)
    assert main(["bulletin", "render", str(bad), "--format", "text"]) == 3


def test_example_command(tmp_path: Path) -> None:
    assert main(["bulletin", "example", "--out", str(tmp_path)]) == 0
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == [
        "wcs-wuchangshi-20250114T1000-2025011400.json",
        "wcs-wuchangshi-20250115T1000-2025011500.json",
    ]
    assert main(["bulletin", "validate", *(str(tmp_path / n) for n in names)]) == 0
