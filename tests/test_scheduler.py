"""The operational scheduler (forecast/scheduler.py, forecast/schedulecli.py).

Fast tests with a controllable clock, fake task modules written to ``tmp_path`` and, for
signals, locks and double starts, real subprocesses bounded in time.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from helpers import ROOT

from forecast import schedulecli
from forecast import scheduler as sch
from forecast.config import Config, load_config

TZ = ZoneInfo("Asia/Shanghai")
DEFAULT_JOBS = [
    ("ingest-hourly", "ingest", "5 * * * *"),
    ("forecast-1000", "forecast", "0 10 * * *"),
    ("forecast-1600", "forecast", "0 16 * * *"),
    ("verify-daily", "verify", "30 9 * * *"),
]

FAKE_TASKS = '''
"""Fake scheduled tasks: record each call next to the config, then behave as told by env."""
import json, os, time
from pathlib import Path

from forecast.errors import InputError


def _run(task, config, *, issue_time, alerts_enabled):
    out = Path(config.source).parent / "calls.jsonl"
    with out.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps({"task": task, "issue_time": issue_time.isoformat(),
                             "tz": str(issue_time.tzinfo), "alerts_enabled": alerts_enabled,
                             "pid": os.getpid()}) + "\\n")
    time.sleep(float(os.environ.get("FAKE_TASK_SECONDS", "0")))
    behaviour = os.environ.get("FAKE_TASK_BEHAVIOUR", "")
    if behaviour == "input":
        raise InputError("obs.csv", [])
    if behaviour == "crash":
        raise RuntimeError("boom")
    if behaviour == "text":
        return "ok"
    return int(os.environ.get("FAKE_TASK_STATUS", "0"))


def ingest(config, **kw):
    return _run("ingest", config, **kw)


def forecast(config, **kw):
    return _run("forecast", config, **kw)


def verify(config, **kw):
    return _run("verify", config, **kw)
'''

FAKE_TASK_REFS = {t: f"wcs_fake_tasks:{t}" for t in ("ingest", "forecast", "verify")}

WRAPPER = """
import sys
sys.path.insert(0, {tmp!r})
import forecast.scheduler as s
s.TASKS.update({refs!r})
{body}
"""


def write_config(
    folder: Path,
    jobs: list[tuple[str, str, str]] = DEFAULT_JOBS,
    *,
    grace: int = 900,
    period: tuple[str, str] = ("10-01", "03-31"),
    name: str = "config.yaml",
) -> Path:
    lines = "".join(f'    - {{id: {i}, task: {t}, cron: "{c}"}}\n' for i, t, c in jobs)
    text = textwrap.dedent(
        f"""\
        version: 1
        region: {{id: wcs, name_zh: 乌昌石, name_en: WCS, time_zone: Asia/Shanghai}}
        cities:
          - {{id: urumqi, name_zh: 乌鲁木齐, name_en: Urumqi}}
        stations:
          - {{code: 1490A, name: 监测站, city: urumqi, lon: 87.58, lat: 43.83}}
        schedule:
          time_zone: Asia/Shanghai
          alert_period: {{start: "{period[0]}", end: "{period[1]}"}}
          job_store: state/scheduler.sqlite
          misfire_grace_seconds: {grace}
        """
    )
    text += "  jobs:\n" + lines if jobs else "  jobs: []\n"
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(autouse=True)
def _clean_logging() -> Iterator[None]:
    yield
    for name in ("forecast", "apscheduler"):
        logger = logging.getLogger(name)
        for h in [h for h in logger.handlers if h.get_name() == "wcs-json-lines"]:
            logger.removeHandler(h)


@pytest.fixture
def fake_tasks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fake task module importable as ``wcs_fake_tasks``; TASKS point at it."""
    mod_dir = tmp_path / "mods"
    mod_dir.mkdir()
    (mod_dir / "wcs_fake_tasks.py").write_text(FAKE_TASKS, encoding="utf-8")
    monkeypatch.syspath_prepend(str(mod_dir))
    monkeypatch.setattr(sch, "TASKS", dict(FAKE_TASK_REFS))
    for var in ("FAKE_TASK_SECONDS", "FAKE_TASK_BEHAVIOUR", "FAKE_TASK_STATUS"):
        monkeypatch.delenv(var, raising=False)
    return mod_dir


@pytest.fixture
def cfg_path(tmp_path: Path) -> Path:
    return write_config(tmp_path)


@pytest.fixture
def cfg(cfg_path: Path) -> Config:
    return load_config(cfg_path)


def set_clock(monkeypatch: pytest.MonkeyPatch, when: datetime) -> None:
    monkeypatch.setattr(sch, "_now", lambda: when)


def events(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    """Every scheduler log line, parsed (each must be one JSON object)."""
    out = []
    for rec in caplog.records:
        if rec.name == "forecast.scheduler":
            line = rec.getMessage()
            assert "\n" not in line
            out.append(json.loads(line))
    return out


def calls(folder: Path) -> list[dict[str, Any]]:
    path = folder / "calls.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line]


def wait_for(predicate: Callable[[], Any], timeout: float = 8.0, step: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    return predicate()


def started(scheduler: Any) -> Any:
    scheduler.start(paused=True)
    return scheduler


# --------------------------------------------------------------------------------------------
# alert period, crontab, issue time


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2024, 9, 30), False),
        (date(2024, 10, 1), True),
        (date(2024, 12, 31), True),
        (date(2025, 1, 1), True),
        (date(2024, 2, 29), True),  # leap day inside the wrapped period
        (date(2025, 3, 31), True),
        (date(2025, 4, 1), False),
        (date(2025, 7, 15), False),
    ],
)
def test_alert_period_wraps_the_year_end(day: date, expected: bool) -> None:
    assert sch.in_alert_period(day, "10-01", "03-31") is expected


def test_alert_period_within_a_year_and_leap_day_ends() -> None:
    assert sch.in_alert_period(date(2025, 6, 1), "04-01", "09-30")
    assert not sch.in_alert_period(date(2025, 10, 1), "04-01", "09-30")
    # a period ending on 29 February ends on 28 February in common years
    assert sch.in_alert_period(date(2023, 2, 28), "11-15", "02-29")
    assert sch.in_alert_period(date(2024, 2, 29), "11-15", "02-29")
    assert not sch.in_alert_period(date(2023, 3, 1), "11-15", "02-29")
    assert not sch.in_alert_period(date(2024, 3, 1), "11-15", "02-29")
    with pytest.raises(ValueError, match="month-day"):
        sch.in_alert_period(date(2024, 1, 1), "13-01", "03-31")


def test_crontab_weekday_numbers_mean_sunday_zero() -> None:
    sunday = datetime(2025, 1, 5, 12, 0, tzinfo=TZ)  # a Sunday
    assert sunday.weekday() == 6
    nxt = sch.crontab_trigger("0 10 * * 1").get_next_fire_time(None, sunday)
    assert nxt == datetime(2025, 1, 6, 10, 0, tzinfo=TZ)  # Monday, not Tuesday
    for expr in ("0 10 * * 0", "0 10 * * 7", "0 10 * * sun"):
        nxt = sch.crontab_trigger(expr).get_next_fire_time(None, sunday)
        assert nxt == datetime(2025, 1, 12, 10, 0, tzinfo=TZ), expr
    weekdays = sch.crontab_trigger("0 10 * * 1-5")
    fires = []
    t = weekdays.get_next_fire_time(None, sunday)
    for _ in range(6):
        fires.append(t.strftime("%a"))
        t = weekdays.get_next_fire_time(t, t + timedelta(microseconds=1))
    assert fires == ["Mon", "Tue", "Wed", "Thu", "Fri", "Mon"]
    assert sch._crontab_weekdays("0-6") == "sun,mon,tue,wed,thu,fri,sat"
    assert sch._crontab_weekdays("*/2") == "sun,tue,thu,sat"
    assert str(sch.crontab_trigger("0 10 * * *").timezone) == "Asia/Shanghai"


@pytest.mark.parametrize(
    ("job_id", "task", "now", "expected"),
    [
        ("forecast-1000", "forecast", "2025-01-15 10:07", "2025-01-15 10:00"),
        ("forecast-1600", "forecast", "2025-01-15 16:00", "2025-01-15 16:00"),
        ("ingest-hourly", "ingest", "2025-01-15 10:04", "2025-01-15 09:05"),
        ("verify-daily", "verify", "2025-01-01 00:10", "2024-12-31 09:30"),
        # not a configured id (--run-now): the task's current cycle
        ("run-now-forecast", "forecast", "2025-01-15 15:59", "2025-01-15 10:00"),
        ("run-now-forecast", "forecast", "2025-01-15 09:00", "2025-01-14 16:00"),
    ],
)
def test_scheduled_issue_time(cfg: Config, job_id: str, task: str, now: str, expected: str) -> None:
    when = datetime.fromisoformat(now).replace(tzinfo=TZ)
    got = sch.scheduled_issue_time(cfg, task, job_id, when)
    assert got == datetime.fromisoformat(expected).replace(tzinfo=TZ)
    assert str(got.tzinfo) == "Asia/Shanghai"


def test_issue_time_from_a_utc_clock_and_interval_mode(cfg: Config) -> None:
    utc = datetime(2025, 1, 15, 2, 7, tzinfo=ZoneInfo("UTC"))  # 10:07 Beijing
    got = sch.scheduled_issue_time(cfg, "forecast", "forecast-1000", utc)
    assert got == datetime(2025, 1, 15, 10, 0, tzinfo=TZ)
    grid = sch.scheduled_issue_time(
        cfg,
        "ingest",
        "ingest-hourly",
        datetime(2025, 1, 15, 10, 0, 7, 300, tzinfo=TZ),
        interval_seconds=5,
    )
    assert grid == datetime(2025, 1, 15, 10, 0, 5, tzinfo=TZ)
    assert sch.cycle_key(grid) == "20250115T100005"
    assert sch.cycle_key(got) == "20250115T1000"


# --------------------------------------------------------------------------------------------
# building the scheduler


def test_jobs_built_from_config(cfg: Config) -> None:
    scheduler = started(sch.build_scheduler(cfg, scheduler_cls=BackgroundScheduler))
    try:
        jobs = {j.id: j for j in scheduler.get_jobs()}
        assert set(jobs) == {j[0] for j in DEFAULT_JOBS}
        assert str(scheduler.timezone) == "Asia/Shanghai"
        for job_id, task, _cron in DEFAULT_JOBS:
            job = jobs[job_id]
            assert job.func_ref == "forecast.scheduler:run_job"
            assert job.args == (str(cfg.source), task, job_id)
            assert isinstance(job.trigger, CronTrigger)
            assert str(job.trigger.timezone) == "Asia/Shanghai"
            assert job.coalesce is True
            assert job.max_instances == 1
            assert job.misfire_grace_time == 900
        nxt = jobs["forecast-1000"].next_run_time.astimezone(TZ)
        assert (nxt.hour, nxt.minute) == (10, 0)
        assert jobs["ingest-hourly"].next_run_time.astimezone(TZ).minute == 5
    finally:
        scheduler.shutdown(wait=False)
    assert cfg.schedule.job_store.is_file()


def _stored_ids(store: Path) -> list[str]:
    with sqlite3.connect(store) as db:
        return sorted(r[0] for r in db.execute("select id from apscheduler_jobs"))


def test_rebuild_replaces_jobs_and_removes_stale_ones(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="forecast.scheduler")
    cfg = load_config(write_config(tmp_path))
    for _ in range(2):  # the same store twice: no duplicates, no ConflictingIdError
        sch.build_scheduler(cfg, scheduler_cls=BackgroundScheduler)
        s = started(sch.build_scheduler(cfg, scheduler_cls=BackgroundScheduler))
        s.shutdown(wait=False)
    assert _stored_ids(cfg.schedule.job_store) == sorted(j[0] for j in DEFAULT_JOBS)

    fewer = load_config(write_config(tmp_path, DEFAULT_JOBS[1:3], grace=60))
    s = started(sch.build_scheduler(fewer, scheduler_cls=BackgroundScheduler))
    try:
        assert sorted(j.id for j in s.get_jobs()) == ["forecast-1000", "forecast-1600"]
        assert {j.misfire_grace_time for j in s.get_jobs()} == {60}
    finally:
        s.shutdown(wait=False)
    assert _stored_ids(fewer.schedule.job_store) == ["forecast-1000", "forecast-1600"]
    removed = [e for e in events(caplog) if e["event"] == "job_removed"]
    assert sorted(e["job_id"] for e in removed) == ["ingest-hourly", "verify-daily"]


def test_changed_cron_is_replaced_unchanged_job_keeps_its_next_run(tmp_path: Path) -> None:
    past = datetime.now(TZ) - timedelta(days=3)
    cfg = load_config(write_config(tmp_path, [("forecast-1000", "forecast", "0 10 * * *")]))
    s = started(sch.build_scheduler(cfg, scheduler_cls=BackgroundScheduler, clock=lambda: past))
    first = s.get_job("forecast-1000").next_run_time
    s.shutdown(wait=False)
    assert first < datetime.now(TZ) - timedelta(days=1)

    s = started(sch.build_scheduler(cfg, scheduler_cls=BackgroundScheduler))
    assert s.get_job("forecast-1000").next_run_time == first  # kept across the restart
    s.shutdown(wait=False)

    changed = load_config(write_config(tmp_path, [("forecast-1000", "forecast", "0 11 * * *")]))
    s = started(sch.build_scheduler(changed, scheduler_cls=BackgroundScheduler))
    try:
        nxt = s.get_job("forecast-1000").next_run_time
        assert nxt > datetime.now(TZ)
        assert nxt.astimezone(TZ).hour == 11
    finally:
        s.shutdown(wait=False)


def _daily_cron_at(t: datetime) -> str:
    return f"{t.minute} {t.hour} * * *"


def test_forward_clock_jump_beyond_grace_logs_job_missed(
    tmp_path: Path, fake_tasks: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Run times computed before a forward jump (or downtime) are late by 2 h > 900 s grace."""
    caplog.set_level(logging.INFO, logger="forecast.scheduler")
    now = datetime.now(TZ)
    due = (now - timedelta(hours=2)).replace(second=0, microsecond=0)
    cfg = load_config(write_config(tmp_path, [("forecast-x", "forecast", _daily_cron_at(due))]))
    old_clock = now - timedelta(hours=3)
    s = started(
        sch.build_scheduler(cfg, scheduler_cls=BackgroundScheduler, clock=lambda: old_clock)
    )
    s.shutdown(wait=False)

    s = sch.build_scheduler(cfg, scheduler_cls=BackgroundScheduler)
    s.start()
    try:
        missed = wait_for(lambda: [e for e in events(caplog) if e["event"] == "job_missed"])
    finally:
        s.shutdown(wait=True)
    assert len(missed) == 1
    assert missed[0]["job_id"] == "forecast-x"
    assert datetime.fromisoformat(missed[0]["scheduled_run_time"]) == due
    assert missed[0]["late_seconds"] > 900
    assert missed[0]["grace_seconds"] == 900
    assert calls(tmp_path) == []  # a missed run does not run the task


def test_late_runs_within_grace_are_coalesced_into_one(
    tmp_path: Path, fake_tasks: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="forecast.scheduler")
    now = datetime.now(TZ)
    last = (now - timedelta(minutes=2)).replace(second=0, microsecond=0)
    cfg = load_config(write_config(tmp_path, [("ingest-x", "ingest", f"{last.minute} * * * *")]))
    old_clock = now - timedelta(hours=3)  # three hourly runs are due: coalesced into one
    s = started(
        sch.build_scheduler(cfg, scheduler_cls=BackgroundScheduler, clock=lambda: old_clock)
    )
    s.shutdown(wait=False)

    s = sch.build_scheduler(cfg, scheduler_cls=BackgroundScheduler)
    s.start()
    try:
        done = wait_for(lambda: [e for e in events(caplog) if e["event"] == "job_done"])
        time.sleep(0.3)
    finally:
        s.shutdown(wait=True)
    assert len(done) == 1
    assert len(calls(tmp_path)) == 1
    assert datetime.fromisoformat(done[0]["issue_time"]) == last
    assert not [e for e in events(caplog) if e["event"] == "job_missed"]


# --------------------------------------------------------------------------------------------
# run_job


def test_run_job_runs_the_task_and_logs_json_lines(
    cfg_path: Path,
    tmp_path: Path,
    fake_tasks: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="forecast.scheduler")
    set_clock(monkeypatch, datetime(2025, 1, 15, 10, 7, 31, tzinfo=TZ))
    assert sch.run_job(str(cfg_path), "forecast", "forecast-1000") == 0
    (call,) = calls(tmp_path)
    assert call["issue_time"] == "2025-01-15T10:00:00+08:00"
    assert call["tz"] == "Asia/Shanghai"
    assert call["alerts_enabled"] is True

    lines = events(caplog)
    assert [e["event"] for e in lines] == ["job_start", "lock_acquired", "job_done"]
    done = lines[-1]
    assert done["job_id"] == "forecast-1000"
    assert done["task"] == "forecast"
    assert done["issue_time"] == "2025-01-15T10:00:00+08:00"
    assert done["status"] == 0
    assert isinstance(done["seconds"], float)
    assert done["total_seconds"] >= done["seconds"] >= 0
    assert all("ts" in e and "seconds" in e for e in lines)
    assert lines[0]["alerts_enabled"] is True

    lock = tmp_path / "state" / "locks" / "forecast-20250115T1000.lock"
    record = json.loads(lock.read_text())
    assert record["state"] == "done"
    assert record["pid"] == os.getpid()


def test_alert_bulletins_off_outside_the_period(
    cfg_path: Path, tmp_path: Path, fake_tasks: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_clock(monkeypatch, datetime(2025, 7, 15, 16, 0, 2, tzinfo=TZ))
    assert sch.run_job(str(cfg_path), "forecast", "forecast-1600") == 0
    set_clock(monkeypatch, datetime(2025, 10, 1, 0, 20, tzinfo=TZ))  # ingest of 1 Oct 00:05
    assert sch.run_job(str(cfg_path), "ingest", "ingest-hourly") == 0
    set_clock(monkeypatch, datetime(2025, 9, 30, 23, 59, tzinfo=TZ))
    assert sch.run_job(str(cfg_path), "ingest", "ingest-hourly") == 0
    got = [(c["issue_time"], c["alerts_enabled"]) for c in calls(tmp_path)]
    assert got == [
        ("2025-07-15T16:00:00+08:00", False),
        ("2025-10-01T00:05:00+08:00", True),
        ("2025-09-30T23:05:00+08:00", False),
    ]


@pytest.mark.parametrize(
    ("env", "status", "event", "reason"),
    [
        ({"FAKE_TASK_STATUS": "1"}, 1, "job_done", None),
        ({"FAKE_TASK_STATUS": "3"}, 3, "job_failed", None),
        ({"FAKE_TASK_BEHAVIOUR": "input"}, 3, "job_failed", "InputError"),
        ({"FAKE_TASK_BEHAVIOUR": "crash"}, 4, "job_failed", "RuntimeError: boom"),
        ({"FAKE_TASK_BEHAVIOUR": "text"}, 4, "job_failed", "expected an int status"),
    ],
)
def test_task_status_and_errors(
    cfg_path: Path,
    fake_tasks: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    env: dict[str, str],
    status: int,
    event: str,
    reason: str | None,
) -> None:
    caplog.set_level(logging.INFO, logger="forecast.scheduler")
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    set_clock(monkeypatch, datetime(2025, 1, 15, 9, 31, tzinfo=TZ))
    assert sch.run_job(str(cfg_path), "verify", "verify-daily") == status
    last = events(caplog)[-1]
    assert last["event"] == event
    assert last["status"] == status
    if reason:
        assert reason in last["reason"]


def test_unimportable_task_fails_the_run_not_the_scheduler(
    cfg_path: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="forecast.scheduler")
    monkeypatch.setattr(sch, "TASKS", {"forecast": "wcs_no_such_module_xyz:run"})
    assert sch.run_job(str(cfg_path), "forecast", "forecast-1000") == 4
    last = events(caplog)[-1]
    assert last["event"] == "job_failed"
    assert last["status"] == 4
    assert "not available" in last["reason"]
    assert "wcs_no_such_module_xyz" in last["reason"]
    assert not (tmp_path / "state" / "locks").exists()
    assert sch.run_job(str(cfg_path), "ingest", "ingest-hourly") == 4  # unknown task name


def test_run_job_with_a_bad_config_returns_2(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="forecast.scheduler")
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nregion: {id: x}\nschedul: {}\n", encoding="utf-8")
    assert sch.run_job(str(bad), "forecast", "forecast-1000") == 2
    last = events(caplog)[-1]
    assert last["event"] == "job_failed"
    assert "invalid configuration" in last["reason"]


# --------------------------------------------------------------------------------------------
# locks


def test_cycle_lock_skips_a_cycle_held_or_done(
    cfg_path: Path,
    cfg: Config,
    tmp_path: Path,
    fake_tasks: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="forecast.scheduler")
    when = datetime(2025, 1, 15, 16, 3, tzinfo=TZ)
    set_clock(monkeypatch, when)
    cycle = datetime(2025, 1, 15, 16, 0, tzinfo=TZ)
    with sch.cycle_lock(cfg, "forecast", cycle) as held:
        assert held is not None
        held.write({"pid": 4242, "host": "other-host", "state": "running"})
        outcome = sch.execute_job(str(cfg_path), "forecast", "forecast-1600")
    assert outcome.event == "job_skipped"
    assert outcome.status == 0
    assert outcome.reason.startswith("locked by pid 4242 on host other-host")
    assert calls(tmp_path) == []
    skipped = events(caplog)[-1]
    assert skipped["event"] == "job_skipped"
    assert skipped["reason"].startswith("locked by pid 4242")

    # the other holder is gone: a failed earlier attempt may be retried
    assert sch.run_job(str(cfg_path), "forecast", "forecast-1600") == 0
    assert len(calls(tmp_path)) == 1
    # finished: not run again by a scheduler ...
    again = sch.execute_job(str(cfg_path), "forecast", "forecast-1600")
    assert again.event == "job_skipped"
    assert again.reason.startswith(f"already done by pid {os.getpid()}")
    assert len(calls(tmp_path)) == 1
    # ... but a forecaster may force it
    assert sch.execute_job(str(cfg_path), "forecast", "forecast-1600", force=True).status == 0
    assert len(calls(tmp_path)) == 2


def test_failed_cycle_may_be_retried(
    cfg_path: Path, tmp_path: Path, fake_tasks: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_clock(monkeypatch, datetime(2025, 1, 15, 10, 1, tzinfo=TZ))
    monkeypatch.setenv("FAKE_TASK_STATUS", "3")
    assert sch.run_job(str(cfg_path), "forecast", "forecast-1000") == 3
    monkeypatch.setenv("FAKE_TASK_STATUS", "0")
    assert sch.run_job(str(cfg_path), "forecast", "forecast-1000") == 0
    assert len(calls(tmp_path)) == 2


def _python(script: str, *args: str, **kw: Any) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FAKE_TASK")}
    env.update(kw.pop("env", {}))
    return subprocess.Popen(
        [sys.executable, "-c", script, *args],
        cwd=ROOT,
        env=env,
        text=True,
        **kw,
    )


def test_two_processes_run_the_same_cycle_exactly_once(
    cfg_path: Path, tmp_path: Path, fake_tasks: Path
) -> None:
    body = textwrap.dedent(
        """
        from datetime import datetime
        from zoneinfo import ZoneInfo
        s._now = lambda: datetime(2025, 1, 15, 10, 2, tzinfo=ZoneInfo("Asia/Shanghai"))
        o = s.execute_job(sys.argv[1], "forecast", "forecast-1000")
        print(o.event + "|" + o.reason)
        """
    )
    script = WRAPPER.format(tmp=str(fake_tasks), refs=FAKE_TASK_REFS, body=body)
    procs = [
        _python(script, str(cfg_path), env={"FAKE_TASK_SECONDS": "1.5"}, stdout=subprocess.PIPE)
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=20)[0].strip() for p in procs]
    assert [p.returncode for p in procs] == [0, 0]
    assert sorted(o.split("|")[0] for o in outs) == ["job_done", "job_skipped"], outs
    runner = [c["pid"] for c in calls(tmp_path)]
    assert len(runner) == 1
    skipped = next(o for o in outs if o.startswith("job_skipped"))
    assert f"by pid {runner[0]} on host" in skipped  # locked by …, or already done by …


def _wait_in_file(path: Path, text: str, timeout: float = 10.0) -> bool:
    return bool(
        wait_for(lambda: path.exists() and text in path.read_text(errors="replace"), timeout)
    )


def _log_events(path: Path) -> list[dict[str, Any]]:
    out = []
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if line.startswith("{"):
            out.append(json.loads(line))
    return out


def _serve_script(fake_tasks: Path) -> str:
    body = "from forecast.schedulecli import main\nsys.exit(main(sys.argv[1:]))"
    return WRAPPER.format(tmp=str(fake_tasks), refs=FAKE_TASK_REFS, body=body)


def test_two_schedulers_on_the_same_config(tmp_path: Path, fake_tasks: Path) -> None:
    cfg_path = write_config(tmp_path, [("ingest-x", "ingest", "5 * * * *")])
    script = _serve_script(fake_tasks)
    err_a = tmp_path / "a.log"
    with err_a.open("w") as fh:
        a = _python(script, "--config", str(cfg_path), stderr=fh)
    try:
        assert _wait_in_file(err_a, '"scheduler_started"'), err_a.read_text()
        b = _python(
            script,
            "--config",
            str(cfg_path),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        _out, err_b = b.communicate(timeout=15)
        assert b.returncode == 3
        assert "another wcs-forecast scheduler is already running" in err_b
        assert f"pid {a.pid} on host" in err_b
        assert a.poll() is None  # the first one is not disturbed
    finally:
        a.send_signal(signal.SIGTERM)
        assert a.wait(timeout=15) == 0
    refused = [e for e in _log_events(err_a) if e["event"] == "scheduler_refused"]
    assert refused == []


def test_second_scheduler_refused_in_process(
    cfg: Config, cfg_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lock = sch.LockFile(sch.scheduler_lock_path(cfg))
    assert lock.acquire()
    try:
        lock.write({"pid": 777, "host": "ops-1", "started": "2025-01-15T10:00:00+08:00"})
        assert schedulecli.main(["--config", str(cfg_path)]) == 3
    finally:
        lock.release()
    err = capsys.readouterr().err
    assert "pid 777 on host ops-1" in err
    assert "not starting a second one" in err
    assert '"event": "scheduler_refused"' in err


def test_sigterm_shuts_down_cleanly_after_the_running_job(tmp_path: Path, fake_tasks: Path) -> None:
    cfg_path = write_config(tmp_path, [("ingest-x", "ingest", "5 * * * *")])
    err = tmp_path / "sched.log"
    with err.open("w") as fh:
        proc = _python(
            _serve_script(fake_tasks),
            "--config",
            str(cfg_path),
            "--interval-seconds",
            "1",
            stderr=fh,
            env={"FAKE_TASK_SECONDS": "0.8"},
        )
    try:
        assert _wait_in_file(err, '"job_start"'), err.read_text()
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert rc == 0, err.read_text()
    lines = _log_events(err)
    names = [e["event"] for e in lines]
    assert names.count("scheduler_stopped") == 1
    assert names[-1] == "scheduler_stopped"
    assert lines[-1]["signal"] == "SIGTERM"
    assert lines[-1]["exit_code"] == 0
    assert names.index("scheduler_stopping") < names.index("scheduler_stopped")
    # the job running when SIGTERM came finished before the process exited
    assert names.count("job_start") == names.count("job_done") >= 1
    assert len(calls(tmp_path)) == names.count("job_done")
    # interval mode: distinct cycles on the interval grid
    issue = [e["issue_time"] for e in lines if e["event"] == "job_done"]
    assert len(set(issue)) == len(issue)


# --------------------------------------------------------------------------------------------
# command line


def test_config_error_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = write_config(tmp_path, name="bad.yaml")
    bad.write_text(bad.read_text().replace("misfire_grace_seconds", "misfire_grace"))
    assert schedulecli.main(["--config", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "unknown key 'schedule.misfire_grace'" in err
    assert schedulecli.main(["--config", str(tmp_path / "missing.yaml")]) == 2
    assert "configuration file not found" in capsys.readouterr().err


def test_config_error_exits_2_in_a_subprocess(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("schedule:\n  time_zone: Asia/Urumqi\n", encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "forecast.schedulecli", "--config", str(bad)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert proc.returncode == 2
    assert "schedule.time_zone" in proc.stderr
    assert "UTC+6" in proc.stderr


def test_list_prints_jobs_in_beijing_time(
    cfg_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    set_clock(monkeypatch, datetime(2025, 4, 1, 9, 40, tzinfo=TZ))
    assert schedulecli.main(["--config", str(cfg_path), "--list"]) == 0
    out = capsys.readouterr().out
    assert "alert bulletins off today" in out
    rows = {line.split()[0]: line for line in out.splitlines()[4:]}
    assert set(rows) == {j[0] for j in DEFAULT_JOBS}
    assert "2025-04-01 10:00 +0800" in rows["forecast-1000"]
    assert "2025-04-01 10:05 +0800" in rows["ingest-hourly"]
    assert "2025-04-02 09:30 +0800" in rows["verify-daily"]


def test_run_now_through_the_cli(
    cfg_path: Path,
    tmp_path: Path,
    fake_tasks: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    set_clock(monkeypatch, datetime(2025, 11, 3, 10, 40, tzinfo=TZ))
    assert schedulecli.main(["--config", str(cfg_path), "--run-now", "forecast"]) == 0
    assert schedulecli.main(["--config", str(cfg_path), "--run-now", "forecast"]) == 0  # forced
    got = calls(tmp_path)
    assert [c["issue_time"] for c in got] == ["2025-11-03T10:00:00+08:00"] * 2
    assert all(c["alerts_enabled"] for c in got)
    out, err = capsys.readouterr()
    assert "forecast cycle 2025-11-03T10:00:00+08:00: status 0" in out
    assert '"event": "job_done"' in err
    cfg = load_config(cfg_path)
    with sch.cycle_lock(cfg, "forecast", datetime(2025, 11, 3, 10, 0, tzinfo=TZ)) as held:
        assert held is not None
        assert schedulecli.main(["--config", str(cfg_path), "--run-now", "forecast"]) == 1
    assert "not run: locked by" in capsys.readouterr().out
    assert len(calls(tmp_path)) == 2


def test_schedule_parser_wires_into_a_parent_cli() -> None:
    parser = argparse.ArgumentParser(prog="wcs-forecast")
    sub = parser.add_subparsers(dest="command", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config")
    schedulecli.add_schedule_parser(sub, [common])
    args = parser.parse_args(["schedule", "--config", "c.yaml", "--run-now", "verify"])
    assert args.func is schedulecli.cmd_schedule
    assert (args.config, args.run_now, args.list, args.interval_seconds) == (
        "c.yaml",
        "verify",
        False,
        None,
    )
    with pytest.raises(SystemExit):
        parser.parse_args(["schedule", "--run-now", "nowcast"])
    with pytest.raises(SystemExit):
        parser.parse_args(["schedule", "--list", "--run-now", "ingest"])
    with pytest.raises(SystemExit):
        parser.parse_args(["schedule", "--interval-seconds", "0"])


def test_repository_config_builds(config: Config, tmp_path: Path) -> None:
    """The shipped config.yaml's jobs are valid for the scheduler (store moved to tmp_path)."""
    store = tmp_path / "s.sqlite"
    moved = config.model_copy(
        update={"schedule": config.schedule.model_copy(update={"job_store": store})}
    )
    s = started(sch.build_scheduler(moved, scheduler_cls=BackgroundScheduler))
    try:
        assert {j.id for j in s.get_jobs()} == {j.id for j in config.schedule.jobs}
    finally:
        s.shutdown(wait=False)


def test_old_cycle_locks_are_pruned_but_not_held_ones(cfg: Config) -> None:
    folder = sch.locks_dir(cfg)
    folder.mkdir(parents=True)
    old, held, fresh = (folder / f"ingest-2024010{i}T0005.lock" for i in (1, 2, 3))
    for path in (old, held, fresh):
        path.write_text("{}")
    ancient = time.time() - 40 * 86400
    for path in (old, held):
        os.utime(path, (ancient, ancient))
    lock = sch.LockFile(held)
    assert lock.acquire()
    try:
        assert sch.prune_locks(cfg) == 1
    finally:
        lock.release()
    assert not old.exists()
    assert held.exists()
    assert fresh.exists()
