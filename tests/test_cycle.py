"""End-to-end tests of the forecast cycle on the synthetic demo (``demo``: one run per session)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd

from forecast.bulletin.json_io import validate_bulletin
from forecast.cycle import run_cycle
from forecast.demo import demo_config, issue_day

LEVEL_RANK = {"none": 0, "blue": 1, "yellow": 2, "orange": 3, "red": 4}


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


def test_sigkill_leaves_no_partial_bulletin_and_the_rerun_is_identical(
    demo, tmp_path: Path
) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    import yaml

    from forecast.io import remove_orphaned_temporaries

    out, result = demo
    config = demo_config(out)
    bulletins = tmp_path / "bulletins"
    config = config.model_copy(
        update={"data": config.data.model_copy(update={"bulletins_dir": bulletins})}
    )
    path = tmp_path / "cycle.yaml"
    dumped = config.model_dump(mode="json", exclude={"source"})
    path.write_text(yaml.safe_dump(dumped, allow_unicode=True), encoding="utf-8")
    issue = pd.Timestamp(result.issue_time).strftime("%Y-%m-%dT%H:%M")
    now = (pd.Timestamp(result.issue_time) + pd.Timedelta(hours=4)).strftime("%Y-%m-%dT%H:%M")
    command = [
        sys.executable,
        "-m",
        "forecast",
        "run",
        "--config",
        str(path),
        "--issue-time",
        issue,
        "--now",
        now,
    ]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    for delay in (2.0, 4.0, 5.0, 6.0):  # imports, NWP, outputs: kill somewhere in the cycle
        proc = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env
        )
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        # Whatever is visible is complete: every archived bulletin validates.
        for json_path in bulletins.rglob("*.json"):
            validate_bulletin(json_path)
    done = subprocess.run(
        command, capture_output=True, text=True, env=env, timeout=300, check=False
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert list(bulletins.rglob(".*.tmp")) == []
    assert remove_orphaned_temporaries(bulletins) == []
    archived = sorted((bulletins / "archive").rglob("*.json"))
    assert [p.name for p in archived] == [Path(result.archived).name]  # one revision only
    assert archived[0].read_bytes() == Path(result.archived).read_bytes()
