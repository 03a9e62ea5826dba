"""The scheduled daily verification (forecast.verify.scheduled_verify, the ``verify`` task)."""

from __future__ import annotations

import json
import logging
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest
from helpers import copy_demo

from forecast import scheduler as sch
from forecast.aqi import aqi
from forecast.config import Config
from forecast.demo import issue_day
from forecast.verify import scheduled_verify

TZ = ZoneInfo("Asia/Shanghai")
CATEGORY_EDGES = [50.5, 100.5, 150.5, 200.5, 300.5]


def _manifest(out: Path) -> dict[str, Any]:
    return json.loads((out / "synth" / "manifest.json").read_text(encoding="utf-8"))


def _at(day: pd.Timestamp, days: int, hhmm: str) -> datetime:
    return datetime.fromisoformat(f"{day + pd.Timedelta(days=days):%Y-%m-%d}T{hhmm}").replace(
        tzinfo=TZ
    )


def test_the_verify_task_and_job_are_wired(config: Config) -> None:
    assert sch.resolve_task("verify") is scheduled_verify
    jobs = {j.id: j for j in config.schedule.jobs}
    assert jobs["verify-daily"].task == "verify"
    # Daily, and before the 10:00 forecast cycle of the same day.
    now = datetime(2025, 1, 10, 12, 0, tzinfo=TZ)
    verify_at = sch.latest_fire_time(jobs["verify-daily"].cron, now)
    forecast_at = sch.latest_fire_time(jobs["forecast-1000"].cron, now)
    assert verify_at is not None and forecast_at is not None
    assert verify_at.date() == forecast_at.date() and verify_at < forecast_at


def test_scheduled_verify_scores_the_archive_through_the_scheduler(demo, tmp_path: Path) -> None:
    out, result = demo
    config, path = copy_demo(out, tmp_path, archived=[result.archived])
    manifest = _manifest(out)
    day = issue_day(manifest)
    archive = config.data.bulletins_dir / "archive"
    assert len(list(archive.rglob("*.json"))) == 1

    # A week after the bulletin, at 09:40: the run belongs to the 09:30 verify-daily cycle.
    outcome = sch.execute_job(str(path), "verify", "verify-daily", now=_at(day, 7, "09:40"))
    assert (outcome.status, outcome.event) == (0, "job_done"), outcome.reason
    assert outcome.issue_time == _at(day, 7, "09:30")
    scores = json.loads((archive / "verification.json").read_text(encoding="utf-8"))
    last = day + pd.Timedelta(days=6)  # the last complete Beijing day before the run
    assert scores["bulletins"] == 1
    assert scores["observed_days"] == {"from": f"{day:%Y-%m-%d}", "to": f"{last:%Y-%m-%d}"}
    assert "hourly station files" in scores["observations"]

    # Independent truth: the generator's city daily PM2.5 (manifest) → AQI → category, per
    # lead day, against the bulletin's daily AQI (pairs within 2 AQI of a category edge skipped:
    # the QC'd station files may differ from the generator's values by a rounding).
    truth_days = pd.DatetimeIndex(manifest["city_daily_pm25"]["days"])
    bulletin = result.bulletin
    assert {c.city_id for c in bulletin.cities} == set(scores["cities"])
    checked = 0
    for city in bulletin.cities:
        leads = scores["cities"][city.city_id]["leads"]
        assert sorted(leads, key=int) == [str(k) for k in range(7)]  # lead 7 not yet observed
        truth = pd.Series(manifest["city_daily_pm25"][city.city_id], index=truth_days)
        for d in city.daily:
            lead = (pd.Timestamp(d.date) - day).days
            if lead > 6:
                continue
            s = leads[str(lead)]
            assert s["n"] == 1
            observed = float(aqi(np.array([truth[pd.Timestamp(d.date)]]), standard="HJ633-2026")[0])
            if min(abs(observed - e) for e in CATEGORY_EDGES) < 2:
                continue
            same = np.digitize(observed, CATEGORY_EDGES) == np.digitize(d.aqi, CATEGORY_EDGES)
            assert s["category_accuracy"] == float(same), (city.city_id, lead)
            checked += 1
    assert checked >= 20

    # Run three days after the bulletin: only its lead days 0–2 are complete and scored.
    outcome = sch.execute_job(str(path), "verify", "verify-daily", now=_at(day, 3, "09:31"))
    assert outcome.status == 0, outcome.reason
    scores = json.loads((archive / "verification.json").read_text(encoding="utf-8"))
    for block in scores["cities"].values():
        assert sorted(block["leads"], key=int) == ["0", "1", "2"]


def test_nothing_to_verify_in_an_empty_archive(
    config: Config, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    moved = config.model_copy(
        update={"data": config.data.model_copy(update={"bulletins_dir": tmp_path / "b"})}
    )
    with caplog.at_level(logging.INFO, logger="forecast.verify"):
        status = scheduled_verify(
            moved, issue_time=datetime(2025, 1, 10, 9, 30, tzinfo=TZ), alerts_enabled=True
        )
    assert status == 0
    assert f"nothing to verify: no archived bulletin under {tmp_path / 'b' / 'archive'}" in (
        caplog.text
    )
    assert not (tmp_path / "b").exists()


def test_nothing_to_verify_before_the_first_bulletin_day_is_complete(
    demo, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    out, result = demo
    config, _ = copy_demo(out, tmp_path, archived=[result.archived])
    day = issue_day(_manifest(out))
    with caplog.at_level(logging.INFO, logger="forecast.verify"):
        status = scheduled_verify(config, issue_time=_at(day, 0, "16:00"), alerts_enabled=True)
    assert status == 0
    assert "nothing to verify yet" in caplog.text
    assert Path(result.archived).name in caplog.text
    assert not (config.data.bulletins_dir / "archive" / "verification.json").exists()


def test_bulletins_without_observations_are_no_input_and_keep_the_old_scores(
    demo, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    out, result = demo
    config, _ = copy_demo(out, tmp_path, archived=[result.archived])
    day = issue_day(_manifest(out))
    previous = config.data.bulletins_dir / "archive" / "verification.json"
    previous.write_text('{"earlier": "scores"}', encoding="utf-8")

    # The station feed is incomplete: 9 of the 24 hours of each day → no valid daily mean.
    for k in range(8):
        for h in range(15):
            f = tmp_path / "synth" / "obs" / f"{day + pd.Timedelta(days=k):%Y-%m-%d}T{h:02d}.csv"
            f.unlink(missing_ok=True)
    with caplog.at_level(logging.INFO, logger="forecast.verify"):
        status = scheduled_verify(config, issue_time=_at(day, 7, "09:30"), alerts_enabled=True)
    assert status == 3
    last = day + pd.Timedelta(days=6)
    assert "none of the 1 bulletin(s)" in caplog.text
    assert f"{day:%Y-%m-%d} … {last:%Y-%m-%d}" in caplog.text and "kept" in caplog.text
    assert previous.read_text(encoding="utf-8") == '{"earlier": "scores"}'

    # No station files and no training observations at all.
    caplog.clear()
    bare = config.model_copy(
        update={"training": config.training.model_copy(update={"observations": ()})}
    )
    with caplog.at_level(logging.INFO, logger="forecast.verify"):
        status = scheduled_verify(bare, issue_time=_at(day, 7, "09:30"), alerts_enabled=True)
    assert status == 3
    assert "no observations for" in caplog.text and "no cnemc-hourly station files" in caplog.text
    assert previous.read_text(encoding="utf-8") == '{"earlier": "scores"}'
