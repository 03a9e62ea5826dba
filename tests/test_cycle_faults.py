"""Faults in the inputs of ``wcs-forecast run``, through the command line (forecast.cli.main).

Every test works on a copy of the session's demo (``demo`` in conftest.py: trained once) with
one fault injected, runs the 10:00 cycle of the demo's issue day as of 14:00 and checks the exit
code, the message and the archived bulletin (README "Exit codes"; forecast/cycle.py).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from helpers import copy_demo

from forecast.bulletin.json_io import validate_bulletin
from forecast.cli import main
from forecast.cycle import MAX_OBS_AGE_H
from forecast.demo import issue_day


def _day(out: Path) -> pd.Timestamp:
    return issue_day(json.loads((out / "synth" / "manifest.json").read_text(encoding="utf-8")))


def _run(config_path: Path, day: pd.Timestamp) -> int:
    return main(
        [
            "run",
            "--config",
            str(config_path),
            "--issue-time",
            f"{day:%Y-%m-%d}T10:00",
            "--now",
            f"{day:%Y-%m-%d}T14:00",
        ]
    )


def _archived(bulletins_dir: Path) -> dict[str, Any]:
    """The one archived bulletin (schema-validated) as a dict."""
    files = sorted((bulletins_dir / "archive").rglob("*.json"))
    assert len(files) == 1, files
    return validate_bulletin(files[0])


def _written(bulletins_dir: Path) -> list[Path]:
    return (
        sorted(p for p in bulletins_dir.rglob("*") if p.is_file()) if bulletins_dir.exists() else []
    )


def _corrupt(path: Path, data: bytes) -> None:
    """Replace the file's bytes in place, keeping its modification time (not a late cycle)."""
    st = path.stat()
    path.write_bytes(data)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


def _cities(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["city_id"]: c for c in doc["cities"]}


def _status(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["component"]: s for s in doc["input_status"]}


# --------------------------------------------------------------------------------------------
# (a) corrupt NWP grids


def test_corrupt_newest_nwp_cycle_falls_back_to_the_previous_one(
    demo, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, _ = demo
    config, path = copy_demo(out, tmp_path)
    day = _day(out)
    bad = tmp_path / "synth" / "nwp" / f"wcs_{day:%Y%m%d}00.nc"
    _corrupt(bad, bad.read_bytes()[: bad.stat().st_size // 3])  # truncated in transfer

    assert _run(path, day) == 1  # degraded
    text = capsys.readouterr().out
    prev = day - pd.Timedelta(days=1)
    assert "NWP fallback" in text and bad.name in text
    doc = _archived(config.data.bulletins_dir)
    nwp = _status(doc)["nwp"]
    assert nwp["status"] == "degraded"
    reason = nwp["reason"]
    assert str(bad) in reason and "cannot be opened as netCDF" in reason
    assert f"using cycle {prev:%Y%m%d}00" in reason
    assert pd.Timestamp(doc["cycle"]).tz_convert("UTC").tz_localize(None) == prev
    assert all(c["status"] == "ok" for c in doc["cities"])


def test_every_nwp_cycle_corrupt_is_no_usable_input_and_no_bulletin(
    demo, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, _ = demo
    config, path = copy_demo(out, tmp_path)
    day = _day(out)
    grids = sorted((tmp_path / "synth" / "nwp").glob("wcs_*.nc"))
    assert len(grids) >= 2
    for grid in grids:
        _corrupt(grid, b"<html>502 Bad Gateway</html>\n" * 10)

    assert _run(path, day) == 3  # no usable input
    text = capsys.readouterr().out
    assert "no usable NWP cycle" in text
    tried = [g for g in grids if pd.Timestamp(g.stem[4:12]) in (day, day - pd.Timedelta(days=1))]
    assert len(tried) == 2
    for grid in tried:
        assert f"{grid}: not a recognised grid file" in text
    assert "no bulletin issued: nothing was written" in text
    assert _written(config.data.bulletins_dir) == []  # nothing partial, nothing archived


# --------------------------------------------------------------------------------------------
# (b) configuration errors


@pytest.mark.parametrize(
    ("section", "key", "value", "expected"),
    [
        ("model", "horizon_dayz", 7, "unknown key 'model.horizon_dayz'"),
        ("aqi", "standard", "HJ633-1999", "aqi.standard: Input should be"),
        ("warnings", "min_lead_hours", -5, "warnings.min_lead_hours"),
    ],
)
def test_configuration_error_exits_2_naming_the_key_and_writes_nothing(
    demo,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    section: str,
    key: str,
    value: object,
    expected: str,
) -> None:
    out, _ = demo
    config, path = copy_demo(out, tmp_path)
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    raw[section][key] = value
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")

    assert _run(bad, _day(out)) == 2
    err = capsys.readouterr().err
    assert str(bad) in err and expected in err
    assert _written(config.data.bulletins_dir) == []


# --------------------------------------------------------------------------------------------
# (c) stale observations of one city


@pytest.mark.parametrize("age_h", [MAX_OBS_AGE_H + 1, MAX_OBS_AGE_H])
def test_city_with_stale_observations_gets_no_forecast_the_others_are_issued(
    demo, tmp_path: Path, capsys: pytest.CaptureFixture[str], age_h: int
) -> None:
    out, _ = demo
    config, path = copy_demo(out, tmp_path)
    day = _day(out)
    city = "wujiaqu"
    codes = [s.code for s in config.stations if s.city == city]
    assert codes
    # The station files of the last ``age_h`` hours up to the 10:00 issue time lose the
    # city's stations: its newest valid hour is ``age_h`` h before the issue time.
    for k in range(age_h):
        hour = pd.Timestamp(f"{day:%Y-%m-%d} 10:00") - pd.Timedelta(hours=k)
        csv = tmp_path / "synth" / "obs" / f"{hour:%Y-%m-%dT%H}.csv"
        lines = csv.read_text(encoding="utf-8").splitlines(keepends=True)
        kept = [line for line in lines if line.split(",")[1] not in codes]
        assert len(kept) == len(lines) - len(codes)
        csv.write_text("".join(kept), encoding="utf-8")

    assert _run(path, day) == 1  # degraded either way
    text = capsys.readouterr().out
    doc = _archived(config.data.bulletins_dir)
    cities = _cities(doc)
    others = [c for c in cities if c != city]
    assert len(others) == 3
    for other in others:
        assert cities[other]["status"] == "ok" and cities[other]["daily"], other
    obs = _status(doc)["observations"]
    assert obs["status"] == "degraded"
    if age_h > MAX_OBS_AGE_H:
        mine = cities[city]
        assert mine["status"] == "no_forecast" and not mine.get("daily")
        assert f"no valid PM2.5 for {age_h} h" in mine["reason"]
        assert f"within {MAX_OBS_AGE_H} h of the issue time" in mine["reason"]
        assert f"{city}: no valid PM2.5 for {age_h} h" in obs["reason"]
        assert f"{city}: no forecast" in _status(doc)["models"]["reason"]
        assert f"{city}: no valid PM2.5" in text
    else:  # at the limit: issued, the gap filled with the last value and said so
        assert cities[city]["status"] == "ok" and cities[city]["daily"]
        assert obs["reason"] == f"{city}: last {age_h} h filled with the last valid value"


# --------------------------------------------------------------------------------------------
# (d) a missing or refused model


def _delete_a_model_file(models: Path) -> tuple[str, str]:
    victim = sorted((models / "shihezi").glob("v*/model-*.txt"))[0]
    victim.unlink()
    return "shihezi", f"{victim}: model file listed in the card is missing"


def _mismatch_the_catalogue(models: Path) -> tuple[str, str]:
    card_path = sorted((models / "changji").glob("v*/card.json"))[-1]
    card = json.loads(card_path.read_text(encoding="utf-8"))
    card["feature_catalogue_version"] = "0"
    card_path.write_text(json.dumps(card), encoding="utf-8")
    return "changji", "does not match the current feature catalogue: feature catalogue 0 !="


@pytest.mark.parametrize("fault", [_delete_a_model_file, _mismatch_the_catalogue])
def test_missing_or_refused_model_fails_that_city_only(
    demo, tmp_path: Path, capsys: pytest.CaptureFixture[str], fault: Any
) -> None:
    out, _ = demo
    config, path = copy_demo(out, tmp_path)
    city, expected = fault(config.data.models_dir)

    assert _run(path, _day(out)) == 1
    text = capsys.readouterr().out
    doc = _archived(config.data.bulletins_dir)
    cities = _cities(doc)
    assert cities[city]["status"] == "failed"
    assert "model refused or missing" in cities[city]["reason"]
    assert expected in cities[city]["reason"]
    assert not cities[city].get("daily") and cities[city].get("warning") is None
    others = [c for c in cities if c != city]
    assert len(others) == 3
    for other in others:
        assert cities[other]["status"] == "ok" and cities[other]["warning"], other
    models = _status(doc)["models"]
    assert models["status"] == "degraded" and f"{city}: failed" in models["reason"]
    assert expected in text
    assert city not in doc["model_versions"] and set(others) <= set(doc["model_versions"])
