"""``wcs-forecast schedule``: run the operational scheduler (see :mod:`forecast.scheduler`).

Wiring into :mod:`forecast.cli`::

    from forecast.schedulecli import add_schedule_parser
    add_schedule_parser(sub, [common])      # sub: the top-level subparsers; common: --config

Also runnable on its own: ``python -m forecast.schedulecli --config C [options]``.

Usage and exit codes:

- ``schedule --config C`` — run until SIGTERM/SIGINT, then exit 0 (running jobs finish first).
  JSON log lines on standard error. Exit 2 for a bad configuration (the message lists every
  problem); exit 3 when another scheduler already runs with the same job store (the message
  names its pid and host; the running scheduler is not disturbed).
- ``schedule --config C --list`` — print the configured jobs with their next run times in
  Beijing time and whether alert bulletins are on for them; exit 0. Read-only.
- ``schedule --config C --run-now TASK`` — run one task once now through the scheduler's own
  path (issue time = the task's current cycle, alert period, cycle lock, JSON log lines). It
  re-runs a cycle that already finished, but never one that another process is running: then
  it exits 1 and says who runs it. Otherwise the exit code is the task's status.
- ``--interval-seconds N`` — testing only: every job runs every N seconds instead of its
  crontab (this rewrites the jobs in the job store; a normal start restores them).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Any

from forecast.cli import EXIT_CONFIG, EXIT_DEGRADED, EXIT_INPUT, EXIT_OK

TASK_NAMES = ("ingest", "forecast", "verify")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a whole number of seconds, got {text!r}"
        ) from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected at least 1 second, got {value}")
    return value


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--list",
        action="store_true",
        help="print the jobs and their next run times (Beijing time) and exit",
    )
    mode.add_argument(
        "--run-now",
        choices=TASK_NAMES,
        metavar="TASK",
        help=f"run one task ({', '.join(TASK_NAMES)}) once now, for forecasters, and exit",
    )
    parser.add_argument(
        "--interval-seconds",
        type=_positive_int,
        metavar="N",
        help=argparse.SUPPRESS,  # testing: run every job every N seconds instead of its crontab
    )
    parser.set_defaults(func=cmd_schedule)


def add_schedule_parser(subparsers: Any, parents: Sequence[argparse.ArgumentParser]) -> None:
    """Add ``schedule`` to the top-level ``subparsers``; ``parents`` provide ``--config``."""
    parser = subparsers.add_parser(
        "schedule",
        parents=list(parents),
        help="run the scheduler (ingest, forecast cycles, verification) in Beijing time",
        description=(
            "Run the jobs of the configuration's schedule section with APScheduler in "
            "Asia/Shanghai until SIGTERM. Exit codes: 0 clean shutdown, 2 bad configuration, "
            "3 another scheduler already runs with this job store."
        ),
    )
    _add_arguments(parser)


def _config_path(args: argparse.Namespace) -> str:
    return str(getattr(args, "config", None) or os.environ.get("WCS_CONFIG") or "config.yaml")


def list_jobs(config: Any) -> str:
    """The configured jobs with their next run times, as a table (Beijing time)."""
    from forecast.scheduler import _now, crontab_trigger, in_alert_period

    now = _now()
    period = config.schedule.alert_period
    lines = [
        f"job store: {config.schedule.job_store}",
        f"time zone: {config.schedule.time_zone}; now {now:%Y-%m-%d %H:%M %z}",
        f"alert period {period.start} – {period.end}: alert bulletins "
        f"{'ON' if in_alert_period(now.date(), period.start, period.end) else 'off'} today",
        f"{'ID':<20} {'TASK':<9} {'CRON':<16} {'NEXT RUN (Beijing)':<24} ALERTS",
    ]
    for job in config.schedule.jobs:
        nxt = crontab_trigger(job.cron).get_next_fire_time(None, now)
        when = f"{nxt:%Y-%m-%d %H:%M %z}" if nxt else "never"
        alerts = "on" if nxt and in_alert_period(nxt.date(), period.start, period.end) else "off"
        lines.append(f"{job.id:<20} {job.task:<9} {job.cron:<16} {when:<24} {alerts}")
    if not config.schedule.jobs:
        lines.append("(no jobs configured)")
    return "\n".join(lines)


def cmd_schedule(args: argparse.Namespace) -> int:
    from forecast.config import load_config
    from forecast.errors import ConfigError
    from forecast.scheduler import SchedulerLockedError, configure_logging, execute_job, serve

    path = _config_path(args)
    try:
        config = load_config(path)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    if args.list:
        print(list_jobs(config))
        return EXIT_OK
    configure_logging()
    if args.run_now:
        outcome = execute_job(
            str(config.source), args.run_now, f"run-now-{args.run_now}", force=True
        )
        when = outcome.issue_time.isoformat() if outcome.issue_time else "?"
        if outcome.event == "job_skipped":
            print(f"{args.run_now} cycle {when} not run: {outcome.reason}")
            return EXIT_DEGRADED
        print(f"{args.run_now} cycle {when}: status {outcome.status}")
        if outcome.reason:
            print(outcome.reason.splitlines()[0], file=sys.stderr)
        return outcome.status
    try:
        return serve(config, interval_seconds=args.interval_seconds)
    except SchedulerLockedError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INPUT


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m forecast.schedulecli``: the ``schedule`` command on its own."""

    parser = argparse.ArgumentParser(
        prog="wcs-forecast schedule",
        description="Run the scheduler (see forecast/scheduler.py).",
    )
    parser.add_argument("--config", metavar="CONFIG", help="configuration file")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of internal errors")
    _add_arguments(parser)
    args = parser.parse_args(argv)
    from forecast.cli import dispatch

    return dispatch(cmd_schedule, args)


if __name__ == "__main__":
    sys.exit(main())
