"""The operational scheduler: ingest, forecast cycles and verification at fixed Beijing times.

``wcs-forecast schedule --config C`` (see :mod:`forecast.schedulecli`) runs an APScheduler 3.x
:class:`~apscheduler.schedulers.blocking.BlockingScheduler` in ``Asia/Shanghai`` with the jobs of
the ``schedule:`` section of the configuration.

Jobs
    Every configured job is stored in a persistent SQLite job store (``schedule.job_store``)
    under its explicit id, with ``replace_existing=True``: restarting never duplicates a job.
    Jobs in the store that are no longer configured are removed (``job_removed`` log line).
    Each job calls :func:`run_job` by textual reference with ``(config_path, task, job_id)``;
    the task itself (``TASKS``: task name → ``"module:callable"``) is imported lazily at run
    time, so a task module that is missing or broken fails that run (status 4, one log line
    with the reason) and never the scheduler. Job defaults: ``coalesce=True``,
    ``max_instances=1``, ``misfire_grace_time = schedule.misfire_grace_seconds``.

    Cron expressions are standard crontab: weekday numbers mean 0/7 = Sunday … 6 = Saturday
    (APScheduler 3.x counts 0 = Monday; :func:`crontab_trigger` translates).

Task callables
    ``task(config, *, issue_time, alerts_enabled) -> int``: ``issue_time`` is the scheduled
    cycle time (aware, Beijing), ``alerts_enabled`` is true inside the autumn–winter alert
    period (``schedule.alert_period``, inclusive, wrapping the year end; see
    :func:`in_alert_period`), and the result is an exit-code style status (0 ok, 1 degraded,
    2 bad config, 3 no usable input, 4 internal error). Exceptions are mapped like the CLI does
    (:class:`ConfigError` → 2, :class:`InputError`/other engine errors/``ValueError`` → 3,
    anything else → 4).

Issue time
    A run's issue time is the latest fire time of its job's crontab at or before the moment it
    runs (a forecast started late at 10:07 within the grace time is still the 10:00 cycle).

Per-cycle lock (two processes never run the same cycle)
    Before a task runs, :func:`run_job` takes ``<job_store dir>/locks/<task>-<YYYYMMDDTHHMM>
    .lock`` with a non-blocking ``fcntl.flock`` and writes pid, host and state into it. A second
    process wanting the same cycle while the lock is held skips it (``job_skipped``, reason
    ``locked by pid … on host …``). The file keeps the outcome; a cycle that already finished
    with status 0 or 1 is not run again by the scheduler (``already done by pid …``); a failed
    cycle (status ≥ 2) may be retried. ``--run-now`` forces a re-run (still never concurrently).
    ``flock`` locks die with their process, so a killed process never leaves a stale lock.
    Lock files older than :data:`LOCK_RETENTION_DAYS` are pruned when a scheduler starts. The
    locks assume a local file system (or one with working ``flock``, e.g. NFSv4).

Two schedulers (scheduler lock)
    :func:`serve` holds ``<job_store>.lock`` (``flock``) for its whole life. A second scheduler
    started with the same job store refuses to start: it logs ``scheduler_refused``, raises
    :class:`SchedulerLockedError` and the CLI exits with **3** ("no usable input": the job
    store is in use), naming the pid and host of the running one. The running one continues.

Clock jumps
    APScheduler computes run times on the wall clock but sleeps on a monotonic timeout.
    A *backwards* jump delays the next runs by the size of the jump (nothing runs twice: the
    job's next run time was already advanced, and the cycle lock records finished cycles).
    A *forward* jump makes runs late: when the scheduler wakes up, all missed runs of a job are
    coalesced into one, which runs if it is within ``misfire_grace_seconds`` and is otherwise
    skipped with a ``job_missed`` log line (APScheduler's ``EVENT_JOB_MISSED``). The same holds
    after downtime: the stored next run time of an unchanged job is kept across restarts.

Shutdown
    SIGTERM or SIGINT → ``scheduler.shutdown(wait=True)`` (running jobs finish) → log line
    ``scheduler_stopped`` → exit 0.

Logs
    One JSON object per line on standard error (:func:`configure_logging`), one line per step,
    with timings in seconds, e.g. ``{"ts": …, "level": "INFO", "event": "job_done",
    "job_id": "forecast-1000", "task": "forecast", "issue_time": "…+08:00", "status": 0,
    "seconds": 12.3, …}``. Other libraries' log records are wrapped as ``"event": "log"``.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib
import json
import logging
import os
import signal
import socket
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final
from zoneinfo import ZoneInfo

from apscheduler.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_MAX_INSTANCES,
    EVENT_JOB_MISSED,
    EVENT_SCHEDULER_STARTED,
    JobExecutionEvent,
    JobSubmissionEvent,
    SchedulerEvent,
)
from apscheduler.schedulers.base import STATE_STOPPED, BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from forecast.errors import ConfigError, InputError, WcsError
from forecast.timeutil import BEIJING

if TYPE_CHECKING:
    from forecast.config import Config

EXIT_OK, EXIT_DEGRADED, EXIT_CONFIG, EXIT_INPUT, EXIT_INTERNAL = 0, 1, 2, 3, 4
TZ: Final = ZoneInfo(BEIJING)

#: task name → ``"module:callable"``, imported when a job runs (not when it is scheduled).
TASKS: dict[str, str] = {
    "ingest": "forecast.cycle:scheduled_ingest",
    "forecast": "forecast.cycle:scheduled_forecast",
    "verify": "forecast.verify:scheduled_verify",
}
#: what every stored job calls (a textual reference: the SQLite store pickles it as text).
RUN_JOB_REF: Final = "forecast.scheduler:run_job"
#: cycle lock files older than this are removed when a scheduler starts.
LOCK_RETENTION_DAYS: Final = 30

log = logging.getLogger("forecast.scheduler")


# --------------------------------------------------------------------------------------------
# structured logging


def _now() -> datetime:
    """The current time, aware, in Beijing time (patched in tests for a controllable clock)."""
    return datetime.now(TZ)


def log_event(event: str, *, level: int = logging.INFO, **fields: Any) -> dict[str, Any]:
    """Log one JSON line ``{"ts", "level", "event", **fields}`` and return the record."""
    record = {
        "ts": datetime.now(TZ).isoformat(timespec="milliseconds"),
        "level": logging.getLevelName(level),
        "event": event,
        **fields,
    }
    log.log(
        level,
        json.dumps(record, ensure_ascii=False, default=str),
        extra={"wcs_structured": True},
    )
    return record


class JsonLineFormatter(logging.Formatter):
    """Structured records as they are; other records wrapped into one JSON line."""

    def format(self, record: logging.LogRecord) -> str:
        if getattr(record, "wcs_structured", False):
            return record.getMessage()
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, TZ).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "event": "log",
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False, default=str)


def configure_logging(stream: Any = None, level: int = logging.INFO) -> logging.Handler:
    """Send the scheduler's and APScheduler's logs as JSON lines to ``stream`` (stderr).

    Idempotent: a handler installed by an earlier call is replaced.
    """
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(JsonLineFormatter())
    handler.set_name("wcs-json-lines")
    for name, lvl in (
        ("forecast", level),
        ("apscheduler", logging.WARNING),
        # missed runs and job errors are logged by our listeners as structured lines
        ("apscheduler.executors", logging.ERROR),
    ):
        logger = logging.getLogger(name)
        logger.setLevel(lvl)
        if name == "apscheduler.executors":
            continue
        for old in [h for h in logger.handlers if h.get_name() == "wcs-json-lines"]:
            logger.removeHandler(old)
        logger.addHandler(handler)
    return handler


# --------------------------------------------------------------------------------------------
# alert period, crontab, issue time


def _month_day(value: str) -> tuple[int, int]:
    try:
        month, day = (int(p) for p in value.split("-"))
    except ValueError:
        raise ValueError(f"expected a month-day like '10-01', got {value!r}") from None
    if not (1 <= month <= 12 and 1 <= day <= 31):
        raise ValueError(f"expected a month-day like '10-01', got {value!r}")
    return month, day


def in_alert_period(day: date, start: str, end: str) -> bool:
    """Whether the Beijing date ``day`` lies in the period ``start``–``end`` ("MM-DD", inclusive).

    A period whose start is after its end wraps the year end (the default "10-01" – "03-31" is
    on from 1 October to 31 March, and on 29 February of leap years).
    """
    md, lo, hi = (day.month, day.day), _month_day(start), _month_day(end)
    if lo <= hi:
        return lo <= md <= hi
    return md >= lo or md <= hi


_CRON_DOW_NAMES: Final = ("sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _crontab_weekdays(field: str) -> str:
    """A crontab day-of-week field (0/7 = Sunday) as APScheduler 3.x day names."""
    if field in ("*", "?") or any(c.isalpha() for c in field):
        return field  # day names mean the same in both
    days: set[int] = set()
    for part in field.split(","):
        spec, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if spec == "*":
            lo, hi = 0, 6
        elif "-" in spec:
            a, b = spec.split("-", 1)
            lo, hi = int(a), int(b)
        else:
            lo = hi = int(spec)
            if step_text:
                hi = 6
        if not (0 <= lo <= 7 and 0 <= hi <= 7 and lo <= hi and step >= 1):
            raise ValueError(f"invalid day-of-week field {field!r}")
        days.update(d % 7 for d in range(lo, hi + 1, step))
    return ",".join(_CRON_DOW_NAMES[d] for d in sorted(days))


def crontab_trigger(cron: str) -> CronTrigger:
    """``CronTrigger.from_crontab`` in Beijing time, with crontab's weekday numbers.

    APScheduler 3.x reads day-of-week numbers with 0 = Monday; a crontab (and this
    configuration) means 0 = Sunday, so numeric weekdays are translated to day names.
    """
    fields = cron.split()
    if len(fields) == 5:
        fields[4] = _crontab_weekdays(fields[4])
    return CronTrigger.from_crontab(" ".join(fields), timezone=BEIJING)


def interval_trigger(seconds: int, now: datetime | None = None) -> IntervalTrigger:
    """Every ``seconds`` seconds, on a grid aligned to the epoch (testing mode)."""
    now = now or _now()
    start = datetime.fromtimestamp((int(now.timestamp()) // seconds + 1) * seconds, TZ)
    return IntervalTrigger(seconds=seconds, start_date=start, timezone=BEIJING)


def latest_fire_time(cron: str, now: datetime) -> datetime | None:
    """The latest fire time of ``cron`` at or before ``now`` (within about a year), or None."""
    trigger = crontab_trigger(cron)
    for window in (
        timedelta(minutes=2),
        timedelta(hours=2),
        timedelta(days=2),
        timedelta(days=40),
        timedelta(days=400),
    ):
        fire = trigger.get_next_fire_time(None, now - window)
        if fire is None or fire > now:
            continue
        while True:
            nxt = trigger.get_next_fire_time(fire, fire + timedelta(microseconds=1))
            if nxt is None or nxt > now:
                return fire.astimezone(TZ)
            fire = nxt
    return None


def scheduled_issue_time(
    config: Config,
    task: str,
    job_id: str,
    now: datetime,
    *,
    interval_seconds: int | None = None,
) -> datetime:
    """The cycle a run at ``now`` belongs to (aware, Beijing time).

    The latest fire time at or before ``now`` of the job's crontab; for a job id that is not
    configured (``--run-now``), of any configured job of the same task (the current cycle);
    otherwise ``now`` to the minute. In interval (testing) mode, ``now`` on the interval grid.
    """
    now = now.astimezone(TZ)
    if interval_seconds:
        return datetime.fromtimestamp(
            int(now.timestamp()) // interval_seconds * interval_seconds, TZ
        )
    jobs = config.schedule.jobs
    crons = [j.cron for j in jobs if j.id == job_id] or [j.cron for j in jobs if j.task == task]
    fires = [f for f in (latest_fire_time(c, now) for c in crons) if f is not None]
    if fires:
        return max(fires)
    return now.replace(second=0, microsecond=0)


# --------------------------------------------------------------------------------------------
# locks


def _describe(holder: dict[str, Any]) -> str:
    if not holder.get("pid"):
        return "another process"
    text = f"pid {holder['pid']} on host {holder.get('host', '?')}"
    if holder.get("started"):
        text += f" since {holder['started']}"
    return text


class LockFile:
    """A non-blocking ``fcntl.flock`` lock on a small JSON file that says who holds it."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> bool:
        """Take the lock if it is free; False (at once) when another holder has it."""
        if self._fd is not None:
            raise RuntimeError(f"{self.path}: already held by this object")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        return True

    def read(self) -> dict[str, Any]:
        """The JSON record in the file ({} when empty or unreadable)."""
        try:
            if self._fd is not None:
                data = os.pread(self._fd, 1 << 16, 0)
            else:
                data = self.path.read_bytes()
            value = json.loads(data.decode("utf-8")) if data.strip() else {}
        except (OSError, ValueError):
            return {}
        return value if isinstance(value, dict) else {}

    def holder(self, wait_seconds: float = 1.0) -> dict[str, Any]:
        """The holder's record, waiting briefly: a holder writes it just after taking the lock."""
        deadline = time.monotonic() + wait_seconds
        record = self.read()
        while not record.get("pid") and time.monotonic() < deadline:
            time.sleep(0.02)
            record = self.read()
        return record

    def write(self, record: dict[str, Any]) -> None:
        if self._fd is None:
            raise RuntimeError(f"{self.path}: not held")
        data = json.dumps(record, ensure_ascii=False, default=str).encode("utf-8") + b"\n"
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, data, 0)

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)


def locks_dir(config: Config) -> Path:
    """``<directory of the job store>/locks``: where the per-cycle lock files live."""
    return config.schedule.job_store.parent / "locks"


def cycle_key(issue_time: datetime) -> str:
    t = issue_time.astimezone(TZ)
    return t.strftime("%Y%m%dT%H%M%S" if t.second else "%Y%m%dT%H%M")


def cycle_lock_path(config: Config, task: str, issue_time: datetime) -> Path:
    return locks_dir(config) / f"{task}-{cycle_key(issue_time)}.lock"


def scheduler_lock_path(config: Config) -> Path:
    store = config.schedule.job_store
    return store.with_name(store.name + ".lock")


@contextlib.contextmanager
def cycle_lock(config: Config, task: str, issue_time: datetime) -> Iterator[LockFile | None]:
    """Hold the cycle's lock for the ``with`` block; yields None when someone else holds it."""
    lock = LockFile(cycle_lock_path(config, task, issue_time))
    if not lock.acquire():
        yield None
        return
    try:
        yield lock
    finally:
        lock.release()


def prune_locks(config: Config, *, older_than_days: float = LOCK_RETENTION_DAYS) -> int:
    """Remove cycle lock files not modified for ``older_than_days`` (and not held)."""
    folder = locks_dir(config)
    if not folder.is_dir():
        return 0
    limit = time.time() - older_than_days * 86400
    removed = 0
    for path in folder.glob("*.lock"):
        try:
            if path.stat().st_mtime >= limit:
                continue
            lock = LockFile(path)
            if lock.acquire():
                try:
                    path.unlink()
                    removed += 1
                finally:
                    lock.release()
        except OSError:
            continue
    return removed


# --------------------------------------------------------------------------------------------
# running one job


class TaskUnavailableError(WcsError):
    """The task's callable cannot be imported (module missing, broken or not a callable)."""


def resolve_task(task: str) -> Callable[..., Any]:
    """Import the callable registered for ``task`` in :data:`TASKS`."""
    ref = TASKS.get(task)
    if ref is None:
        raise TaskUnavailableError(f"unknown task {task!r}; known tasks: {', '.join(TASKS)}")
    module_name, _, attr = ref.partition(":")
    if module_name not in sys.modules:
        importlib.invalidate_caches()  # a module installed since the last attempt is found
    try:
        obj: Any = importlib.import_module(module_name)
        for part in attr.split(".") if attr else []:
            obj = getattr(obj, part)
    except Exception as exc:  # ImportError, AttributeError, or an error inside the module
        raise TaskUnavailableError(
            f"task {task!r} is not available: cannot import {ref} ({type(exc).__name__}: {exc})"
        ) from None
    if not callable(obj):
        raise TaskUnavailableError(f"task {task!r}: {ref} is not callable")
    return obj


@dataclass(frozen=True)
class JobOutcome:
    status: int
    event: str  # job_done, job_failed or job_skipped
    reason: str = ""
    issue_time: datetime | None = None


def _status_of_exception(exc: BaseException) -> int:
    if isinstance(exc, ConfigError):
        return EXIT_CONFIG
    if isinstance(exc, InputError | WcsError | ValueError):
        return EXIT_INPUT
    return EXIT_INTERNAL


def _level(status: int) -> int:
    return logging.INFO if status == EXIT_OK else logging.WARNING if status == 1 else logging.ERROR


def execute_job(
    config_path: str,
    task: str,
    job_id: str,
    *,
    now: datetime | None = None,
    interval_seconds: int | None = None,
    force: bool = False,
) -> JobOutcome:
    """Run one job once (the body of :func:`run_job`); never raises ``Exception``.

    ``now`` replaces the clock (tests); ``force`` re-runs a cycle that already finished (it is
    still never run by two processes at once).
    """
    t0 = time.perf_counter()
    base: dict[str, Any] = {"job_id": job_id, "task": task}

    def fail(
        status: int, reason: str, issue_time: datetime | None = None, **extra: Any
    ) -> JobOutcome:
        log_event(
            "job_failed",
            level=_level(status),
            **base,
            status=status,
            reason=reason,
            seconds=round(time.perf_counter() - t0, 3),
            **extra,
        )
        return JobOutcome(status, "job_failed", reason, issue_time)

    try:
        from forecast.config import load_config

        try:
            config = load_config(config_path)
        except ConfigError as exc:
            return fail(EXIT_CONFIG, str(exc))
        config_seconds = time.perf_counter() - t0
        clock = _now() if now is None else now if now.tzinfo else now.replace(tzinfo=TZ)
        issue_time = scheduled_issue_time(
            config, task, job_id, clock.astimezone(TZ), interval_seconds=interval_seconds
        )
        period = config.schedule.alert_period
        alerts = in_alert_period(issue_time.date(), period.start, period.end)
        base.update(issue_time=issue_time.isoformat())
        log_event(
            "job_start",
            **base,
            alerts_enabled=alerts,
            pid=os.getpid(),
            config=str(config.source),
            seconds=round(config_seconds, 3),
        )
        try:
            func = resolve_task(task)
        except TaskUnavailableError as exc:
            return fail(EXIT_INTERNAL, str(exc), issue_time)

        t_lock = time.perf_counter()
        with cycle_lock(config, task, issue_time) as lock:
            if lock is None:
                holder = LockFile(cycle_lock_path(config, task, issue_time)).holder()
                reason = f"locked by {_describe(holder)}"
                log_event("job_skipped", **base, reason=reason, status=EXIT_OK)
                return JobOutcome(EXIT_OK, "job_skipped", reason, issue_time)
            previous = lock.read()
            if not force and previous.get("state") == "done":
                reason = (
                    f"already done by {_describe(previous)} at {previous.get('finished')} "
                    f"(status {previous.get('status')})"
                )
                log_event("job_skipped", **base, reason=reason, status=EXIT_OK)
                return JobOutcome(EXIT_OK, "job_skipped", reason, issue_time)
            record: dict[str, Any] = {
                "pid": os.getpid(),
                "host": socket.gethostname(),
                "started": _now().isoformat(timespec="seconds"),
                "job_id": job_id,
                "task": task,
                "issue_time": issue_time.isoformat(),
                "state": "running",
            }
            lock.write(record)
            log_event(
                "lock_acquired",
                **base,
                lock=str(lock.path),
                seconds=round(time.perf_counter() - t_lock, 3),
            )
            t_task = time.perf_counter()
            reason = ""
            try:
                result = func(config, issue_time=issue_time, alerts_enabled=alerts)
                if isinstance(result, bool) or not isinstance(result, int):
                    status = EXIT_INTERNAL
                    reason = f"task returned {result!r}, expected an int status"
                elif result not in (0, 1, 2, 3, 4):
                    status, reason = EXIT_INTERNAL, f"task returned unknown status {result}"
                else:
                    status = result
            except Exception as exc:
                status = _status_of_exception(exc)
                reason = f"{type(exc).__name__}: {exc}"
                if status == EXIT_INTERNAL:
                    reason += "\n" + traceback.format_exc()
            task_seconds = time.perf_counter() - t_task
            lock.write(
                {
                    **record,
                    "state": "done" if status in (EXIT_OK, EXIT_DEGRADED) else "failed",
                    "status": status,
                    "finished": _now().isoformat(timespec="seconds"),
                }
            )
        event = "job_done" if status in (EXIT_OK, EXIT_DEGRADED) else "job_failed"
        fields: dict[str, Any] = {"reason": reason} if reason else {}
        log_event(
            event,
            level=_level(status),
            **base,
            status=status,
            seconds=round(task_seconds, 3),
            total_seconds=round(time.perf_counter() - t0, 3),
            **fields,
        )
        return JobOutcome(status, event, reason, issue_time)
    except Exception as exc:  # a bug here must not take the scheduler down
        return fail(
            EXIT_INTERNAL, f"{type(exc).__name__}: {exc}", None, traceback=traceback.format_exc()
        )


def run_job(
    config_path: str, task: str, job_id: str, *, interval_seconds: int | None = None
) -> int:
    """The scheduler's entry point for every job (module level: stored by textual reference).

    Loads the configuration, computes the cycle's issue time, checks the alert period, takes the
    cycle lock, runs ``TASKS[task]`` and logs one JSON line per step. Returns the exit-code
    style status (a skipped cycle is 0); never raises.
    """
    return execute_job(config_path, task, job_id, interval_seconds=interval_seconds).status


# --------------------------------------------------------------------------------------------
# the scheduler


class SchedulerLockedError(WcsError):
    """Another scheduler already runs with this job store."""


class StopGuardMixin:
    """Do not process jobs once the scheduler has been shut down.

    APScheduler 3.x's loop runs ``_process_jobs`` once more after ``shutdown()`` (the state is
    STOPPED, not PAUSED): a job due then is submitted to the stopped executor, fails, and its
    next run time is advanced anyway, so that run is silently lost. :func:`build_scheduler`
    applies this guard to whatever scheduler class it is given.
    """

    _jobstores_lock: Any
    state: int

    def _process_jobs(self) -> float | None:
        with self._jobstores_lock:
            if self.state == STATE_STOPPED:
                return None
            result: float | None = super()._process_jobs()  # type: ignore[misc]
            return result


class WcsBlockingScheduler(StopGuardMixin, BlockingScheduler):
    """The production scheduler: a ``BlockingScheduler`` with :class:`StopGuardMixin`."""


def _guarded(cls: type[BaseScheduler]) -> type[BaseScheduler]:
    if issubclass(cls, StopGuardMixin):
        return cls
    return type(f"Guarded{cls.__name__}", (StopGuardMixin, cls), {})


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(TZ).isoformat() if value is not None else None


def _add_listeners(scheduler: BaseScheduler, config: Config) -> None:
    grace = config.schedule.misfire_grace_seconds

    def on_missed(event: JobExecutionEvent) -> None:
        log_event(
            "job_missed",
            level=logging.WARNING,
            job_id=event.job_id,
            scheduled_run_time=_iso(event.scheduled_run_time),
            late_seconds=round((datetime.now(TZ) - event.scheduled_run_time).total_seconds(), 1),
            grace_seconds=grace,
        )

    def on_max_instances(event: JobSubmissionEvent) -> None:
        log_event(
            "job_skipped",
            level=logging.WARNING,
            job_id=event.job_id,
            reason="the previous run of this job is still going (max_instances=1)",
            scheduled_run_times=[_iso(t) for t in event.scheduled_run_times],
        )

    def on_error(event: JobExecutionEvent) -> None:
        log_event(
            "job_error",
            level=logging.ERROR,
            job_id=event.job_id,
            reason=f"{type(event.exception).__name__}: {event.exception}",
            traceback=event.traceback,
        )

    def on_started(event: SchedulerEvent) -> None:
        log_event(
            "scheduler_started",
            pid=os.getpid(),
            job_store=str(config.schedule.job_store),
            jobs=[
                {"id": j.id, "next_run_time": _iso(getattr(j, "next_run_time", None))}
                for j in scheduler.get_jobs()
            ],
        )

    scheduler.add_listener(on_missed, EVENT_JOB_MISSED)
    scheduler.add_listener(on_max_instances, EVENT_JOB_MAX_INSTANCES)
    scheduler.add_listener(on_error, EVENT_JOB_ERROR)
    scheduler.add_listener(on_started, EVENT_SCHEDULER_STARTED)


def build_scheduler(
    config: Config,
    *,
    scheduler_cls: type[BaseScheduler] = WcsBlockingScheduler,
    clock: Callable[[], datetime] | None = None,
    interval_seconds: int | None = None,
) -> BaseScheduler:
    """A scheduler (not started) with the configured jobs in the persistent SQLite job store.

    Jobs call :data:`RUN_JOB_REF` with ``(config_path, task, job_id)`` under their configured
    ids (``replace_existing=True``); jobs in the store that are no longer configured are removed
    now. An unchanged job keeps its stored next run time (so runs missed while no scheduler was
    running are caught up within the grace time, or logged as missed); new or changed jobs get
    their next run time from ``clock`` (default: the scheduler's own clock when it starts).

    ``interval_seconds`` (testing only) replaces every crontab by an interval trigger.
    The caller must hold the scheduler lock (:func:`serve` does) while modifying a live store.
    """
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore

    sched = config.schedule
    if config.source is None:
        raise ConfigError("the configuration has no source file (use forecast.config.load_config)")
    sched.job_store.parent.mkdir(parents=True, exist_ok=True)
    store = SQLAlchemyJobStore(url=f"sqlite:///{sched.job_store}")
    scheduler = _guarded(scheduler_cls)(
        timezone=TZ,
        jobstores={"default": store},
        job_defaults={
            "coalesce": True,
            "max_instances": 1,
            "misfire_grace_time": sched.misfire_grace_seconds,
        },
    )
    store.start(scheduler, "default")  # creates the table; started again by scheduler.start()
    existing = {job.id: job for job in store.get_all_jobs()}
    wanted = {job.id for job in sched.jobs}
    for job_id in sorted(set(existing) - wanted):
        store.remove_job(job_id)
        log_event(
            "job_removed",
            job_id=job_id,
            reason="no longer in the configuration",
            job_store=str(sched.job_store),
        )
    config_path = str(config.source)
    for job in sched.jobs:
        trigger: CronTrigger | IntervalTrigger
        if interval_seconds:
            trigger = interval_trigger(interval_seconds, clock() if clock else None)
            kwargs: dict[str, Any] = {"interval_seconds": interval_seconds}
        else:
            trigger = crontab_trigger(job.cron)
            kwargs = {}
        args = (config_path, job.task, job.id)
        old = existing.get(job.id)
        options: dict[str, Any] = {}
        resumed = (
            old is not None
            and old.func_ref == RUN_JOB_REF
            and tuple(old.args) == args
            and dict(old.kwargs) == kwargs
            and repr(old.trigger) == repr(trigger)
            and old.next_run_time is not None
        )
        if resumed:
            assert old is not None
            options["next_run_time"] = old.next_run_time
        elif clock is not None:
            options["next_run_time"] = trigger.get_next_fire_time(None, clock())
        scheduler.add_job(
            RUN_JOB_REF,
            trigger=trigger,
            args=args,
            kwargs=kwargs,
            id=job.id,
            name=f"{job.task} ({job.id})",
            replace_existing=True,
            **options,
        )
        log_event(
            "job_scheduled",
            job_id=job.id,
            task=job.task,
            cron=None if interval_seconds else job.cron,
            interval_seconds=interval_seconds,
            resumed=resumed,
            next_run_time=_iso(options.get("next_run_time")),
        )
    _add_listeners(scheduler, config)
    return scheduler


def serve(
    config: Config,
    *,
    interval_seconds: int | None = None,
    scheduler_cls: type[BaseScheduler] = WcsBlockingScheduler,
) -> int:
    """Run the blocking scheduler until SIGTERM/SIGINT; returns 0 after a clean shutdown.

    Raises :class:`SchedulerLockedError` (exit code 3) when another scheduler holds the job
    store's lock. Must be called from the main thread (it installs signal handlers).
    """
    lock = LockFile(scheduler_lock_path(config))
    if not lock.acquire():
        holder = lock.holder()
        message = (
            f"another wcs-forecast scheduler is already running with job store "
            f"{config.schedule.job_store} ({_describe(holder)}; lock {lock.path}); "
            "not starting a second one"
        )
        log_event("scheduler_refused", level=logging.ERROR, reason=message, pid=os.getpid())
        raise SchedulerLockedError(message)
    started = time.monotonic()
    stop = threading.Event()
    received: list[str] = []
    previous: dict[signal.Signals, Any] = {}
    try:
        lock.write(
            {
                "pid": os.getpid(),
                "host": socket.gethostname(),
                "started": _now().isoformat(timespec="seconds"),
                "config": str(config.source),
            }
        )
        pruned = prune_locks(config)
        if pruned:
            log_event("locks_pruned", count=pruned, older_than_days=LOCK_RETENTION_DAYS)
        scheduler = build_scheduler(
            config, scheduler_cls=scheduler_cls, interval_seconds=interval_seconds
        )
        running = threading.Event()
        scheduler.add_listener(lambda _e: running.set(), EVENT_SCHEDULER_STARTED)

        def on_signal(signum: int, _frame: Any) -> None:
            # Keep the handler minimal: a watcher thread does the shutdown.
            received.append(signal.Signals(signum).name)
            stop.set()

        def watcher() -> None:
            stop.wait()
            if not received:
                return
            running.wait()
            log_event("scheduler_stopping", signal=received[0], pid=os.getpid())
            t = time.perf_counter()
            with contextlib.suppress(Exception):
                scheduler.shutdown(wait=True)
            log_event("scheduler_shutdown", seconds=round(time.perf_counter() - t, 3))

        for sig in (signal.SIGTERM, signal.SIGINT):
            previous[sig] = signal.signal(sig, on_signal)
        stopper = threading.Thread(target=watcher, name="wcs-scheduler-stop", daemon=True)
        stopper.start()
        scheduler.start()  # blocks until the watcher shuts it down
        running.set()
        stop.set()
        stopper.join(timeout=60)
        log_event(
            "scheduler_stopped",
            signal=received[0] if received else None,
            uptime_seconds=round(time.monotonic() - started, 3),
            exit_code=EXIT_OK,
        )
        return EXIT_OK
    finally:
        stop.set()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        lock.release()
