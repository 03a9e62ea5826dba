"""End-to-end tests of the forecast cycle on the synthetic demo (one demo run, module scope)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from forecast.bulletin.json_io import validate_bulletin
from forecast.config import Config
from forecast.cycle import run_cycle
from forecast.demo import demo_config, issue_day, run_demo

LEVEL_RANK = {"none": 0, "blue": 1, "yellow": 2, "orange": 3, "red": 4}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory, config: Config):
    out = tmp_path_factory.mktemp("demo")
    result = run_demo(out, config, say=lambda _m: None)
    return out, result


def test_demo_end_to_end(demo) -> None:
    _out, result = demo
    assert result.status == 0, result.summary()
    doc = validate_bulletin(result.archived)
    b = result.bulletin
    assert len(b.cities) == 4 and doc["regional"]
    assert b.synthetic
    assert max(LEVEL_RANK[c.warning.level] for c in b.cities if c.warning) >= 2
    names = [p.name for p in result.paths]
    assert any(n.endswith(".cap.xml") for n in names)
    assert (result.out_dir / f"{b.id}.html").is_file()


def test_rerun_is_identical(demo) -> None:
    out, result = demo
    config = demo_config(out)
    before = result.archived.read_bytes()
    json_out = result.out_dir / f"{result.bulletin.id}.json"
    first_out = json_out.read_bytes()
    day = issue_day(__import__("json").loads((out / "synth" / "manifest.json").read_text()))
    again = run_cycle(config, f"{day:%Y-%m-%d} 10:00", now=f"{day:%Y-%m-%d} 14:00")
    assert again.status == 0
    assert again.archived == result.archived
    assert again.archived.read_bytes() == before
    assert json_out.read_bytes() == first_out
    assert len(list(again.archived.parent.glob("*.r2.json"))) == 0


def test_missing_newest_cycle_falls_back(demo, tmp_path: Path) -> None:
    out, _ = demo
    copy = tmp_path / "demo"
    shutil.copytree(out / "synth", copy / "synth", symlinks=True)
    shutil.copytree(out / "models", copy / "models")
    manifest = __import__("json").loads((copy / "synth" / "manifest.json").read_text())
    day = issue_day(manifest)
    (copy / "synth" / "nwp" / f"wcs_{day:%Y%m%d}00.nc").unlink()
    config = demo_config(copy)
    result = run_cycle(config, f"{day:%Y-%m-%d} 10:00", now=f"{day:%Y-%m-%d} 14:00")
    assert result.status == 1, result.summary()
    nwp = {s.component: s for s in result.bulletin.input_status}["nwp"]
    prev = day - pd.Timedelta(days=1)
    assert nwp.status == "degraded" and f"{prev:%Y%m%d}00" in (nwp.reason or "")
    validate_bulletin(result.archived)


def test_scheduler_tasks_run_the_cycle_and_the_ingest(demo, tmp_path: Path) -> None:
    from forecast.cycle import scheduled_forecast, scheduled_ingest
    from forecast.obs.dataset import read_netcdf
    from forecast.timeutil import BEIJING

    out, result = demo
    config = demo_config(out)
    issue = pd.Timestamp(result.issue_time).tz_convert(BEIJING).to_pydatetime()
    assert scheduled_ingest(config, issue_time=issue, alerts_enabled=True) == 0
    latest = read_netcdf(config.data.observations_dir / "latest.nc")
    assert latest.sizes["time"] == 48 and latest.sizes["site"] == 21
    # The cycle's NWP file of the issue day is available by 14:00 only: at 10:00 the scheduled
    # run falls back to the previous cycle and says so (degraded, status 1), or succeeds.
    assert scheduled_forecast(config, issue_time=issue, alerts_enabled=True) in (0, 1)
