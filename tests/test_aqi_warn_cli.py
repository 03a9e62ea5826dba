"""``wcs-forecast aqi`` and ``wcs-forecast warn``: text and JSON output, bad input → exit 2.

The commands are added to a parser built here with :func:`add_aqi_warn_parsers` (the same
call ``forecast/cli.py`` makes), so these tests do not depend on the wiring.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from forecast.warncli import add_aqi_warn_parsers


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser(prog="wcs-forecast")
    sub = parser.add_subparsers(dest="command", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config")
    add_aqi_warn_parsers(sub, [common])
    args = parser.parse_args(argv)
    code = args.func(args)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(autouse=True)
def _repo_config(config_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The repository's config (HJ633-2026, rule set 2024, blue off), whatever the cwd.
    monkeypatch.setenv("WCS_CONFIG", str(config_path))


# --------------------------------------------------------------------------------------------
# aqi


def test_aqi_text(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["aqi", "--pm25", "160", "--pm10", "120"], capsys)
    assert (code, err) == (0, "")
    assert "AQI 210 (HJ633-2026): level V 重度污染 Heavily polluted, colour purple #99004C" in out
    assert "primary pollutant: PM2.5" in out
    assert "IAQI PM10: 100 at 120 µg/m³" in out


def test_aqi_json_both_standards(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["aqi", "--pm25", "70", "--pm10", "130", "--json"], capsys)
    new = json.loads(out)
    assert code == 0
    assert new["standard"] == "HJ633-2026"
    assert new["iaqi"] == {"pm25": 110, "pm10": 104}  # 100 + 10/55·50, 100 + 10/130·50
    assert new["aqi"] == 110 and new["primary_pollutant"] == "PM2.5"
    assert new["category"] == {"level": "III", "name_zh": "轻度污染", "name_en": "Lightly polluted"}
    assert new["colour"] == {"hex": "#FF7E00", "name": "orange"}
    assert new["beyond_range"] == {"pm25": False, "pm10": False}
    code, out, _ = run(
        ["aqi", "--pm25", "70", "--pm10", "130", "--standard", "2012", "--json"], capsys
    )
    old = json.loads(out)
    assert old["standard"] == "HJ633-2012"
    assert old["iaqi"] == {"pm25": 94, "pm10": 90}
    assert old["category"]["level"] == "II" and old["colour"]["name"] == "yellow"


def test_aqi_primary_is_null_when_aqi_at_most_50(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(["aqi", "--pm25", "35", "--json"], capsys)
    report = json.loads(out)
    assert report["aqi"] == 50 and report["primary_pollutant"] is None
    _, out, _ = run(["aqi", "--pm25", "35.1", "--json"], capsys)
    assert json.loads(out)["primary_pollutant"] == "PM2.5"


def test_aqi_beyond_range(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["aqi", "--pm25", "620", "--json"], capsys)
    report = json.loads(out)
    assert code == 0
    assert report["aqi"] == 500 and report["beyond_range"] == {"pm25": True}
    assert report["colour"]["name"] == "maroon"
    _, text, _ = run(["aqi", "--pm25", "620"], capsys)
    assert "beyond range: capped at 500" in text


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--pm25", "abc"], "--pm25: 'abc' is not a number; expected a 24-hour mean"),
        (["--pm25=-3"], "--pm25: '-3' is not a valid concentration; expected a finite number ≥ 0"),
        (["--pm25", "100", "--pm10", "nan"], "--pm10: 'nan' is not a valid concentration"),
        (["--pm25", "inf"], "--pm25: 'inf' is not a valid concentration"),
    ],
)
def test_aqi_bad_input(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["aqi", *argv], capsys)
    assert code == 2
    assert out == ""
    assert message in err


def test_aqi_unknown_standard_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        run(["aqi", "--pm25", "10", "--standard", "2020"], capsys)
    assert exc.value.code == 2
    assert "invalid choice: '2020'" in capsys.readouterr().err


# --------------------------------------------------------------------------------------------
# warn


def test_warn_text(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(
        [
            "warn",
            "--aqi",
            "120,210,230,180",
            "--start",
            "2026-01-10",
            "--issued",
            "2026-01-09 16:00",
        ],
        capsys,
    )
    assert (code, err) == (0, "")
    assert "rule set 2024: ORANGE 橙色预警" in out
    assert "rule:   2024 orange: AQI > 200 for ≥ 48 h" in out
    assert "reason: AQI > 200 for ≥ 48 h: 2026-01-11 AQI 210, 2026-01-12 AQI 230" in out
    assert "episode: 2026-01-11 – 2026-01-13 (Beijing time); lead 32 h" in out
    assert "≥ 24 h met" in out
    assert "2026-01-12  AQI 230" in out


def test_warn_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["warn", "--aqi", "210,230,180", "--start", "2026-01-10", "--json"], capsys)
    payload = json.loads(out)
    assert code == 0
    assert payload["level"] == "orange"
    assert payload["rule"] == "2024 orange: AQI > 200 for ≥ 48 h"
    assert "2026-01-10 AQI 210" in payload["reason"]
    assert [d["date"] for d in payload["days"]] == ["2026-01-10", "2026-01-11", "2026-01-12"]
    assert [d["aqi"] for d in payload["days"]] == [210, 230, 180]
    assert payload["triggering_days"] == ["2026-01-10", "2026-01-11"]
    assert payload["episode_start"] == "2026-01-10T00:00:00"
    assert payload["lead_hours"] == 0.0 and payload["meets_lead_time"] is False


def test_warn_2018_with_blue_and_without_the_300_condition(
    capsys: pytest.CaptureFixture[str],
) -> None:
    base = ["warn", "--rules", "2018", "--start", "2026-01-10", "--json"]
    _, out, _ = run([*base, "--aqi", "210"], capsys)
    assert json.loads(out)["level"] == "none"
    _, out, _ = run([*base, "--aqi", "210", "--blue"], capsys)
    payload = json.loads(out)
    assert payload["level"] == "blue" and payload["options"]["blue_level"] is True
    _, out, _ = run([*base, "--aqi", "210,220,230"], capsys)
    assert json.loads(out)["level"] == "yellow"
    _, out, _ = run([*base, "--aqi", "210,220,230", "--no-orange-300"], capsys)
    assert json.loads(out)["level"] == "orange"


def test_warn_dust_primary(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["warn", "--aqi", "250,260,240", "--primary", "PM10,PM10,PM10", "--start", "2026-04-03"]
    code, out, _ = run([*argv, "--json"], capsys)
    payload = json.loads(out)
    assert code == 0
    assert (payload["level"], payload["advice"]) == ("none", "dust")
    assert [d["primary"] for d in payload["days"]] == ["PM10", "PM10", "PM10"]
    _, text, _ = run(argv, capsys)
    assert "NONE 无预警 — dust health advice" in text
    assert "not counted for a colour" in text
    _, out, _ = run([*argv, "--rules", "2018", "--json"], capsys)
    assert json.loads(out)["level"] == "yellow"


def test_warn_rules_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plan = tmp_path / "local.yaml"
    plan.write_text("name: local\nlevels:\n  - level: red\n    any_of: [[{above: 150}]]\n", "utf-8")
    code, out, _ = run(
        ["warn", "--aqi", "151", "--rules-file", str(plan), "--start", "2026-01-10", "--json"],
        capsys,
    )
    assert code == 0 and json.loads(out)["level"] == "red"
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nlevels:\n  - level: red\n    any_of: [[{abov: 150}]]\n", "utf-8")
    code, _, err = run(["warn", "--aqi", "151", "--rules-file", str(bad)], capsys)
    assert code == 2
    assert "unknown key 'abov'; did you mean 'above'?" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["--aqi", "210,abc,180"],
            "--aqi: value 2 'abc' is not a number; expected comma-separated",
        ),
        (
            ["--aqi=-5,210"],
            "--aqi: value 1 '-5' is not a valid AQI; expected a number within 0–500",
        ),
        (["--aqi", "210,620"], "value 2 '620' is not a valid AQI"),
        (["--aqi", "210,,180"], "has an empty value"),
        (["--aqi", "210,230", "--primary", "PM10"], "--primary: 1 value(s) 'PM10' for 2 day(s)"),
        (["--aqi", "210", "--primary", "sand"], "--primary: value 1: unknown pollutant 'sand'"),
        (["--aqi", "210", "--start", "yesterday"], "--start: 'yesterday' is not a date"),
        (["--aqi", "210", "--rules", "2020"], "unknown rule set '2020'; valid: 2018, 2024"),
        (["--aqi", "210", "--blue"], "rule set '2024' has no option 'blue_level'"),
        (
            ["--aqi", "210", "--merge-gap", "-1"],
            "--merge-gap: -1 days; expected a whole number ≥ 0",
        ),
    ],
)
def test_warn_bad_input(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["warn", *argv], capsys)
    assert code == 2
    assert out == ""
    assert err.startswith("error: ")
    assert message in err
