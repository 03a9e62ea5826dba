"""What every benchmark shares: timing, the CPU it ran on, and the report."""

from __future__ import annotations

import json
import platform
import statistics
import time
from collections.abc import Callable, Mapping
from pathlib import Path


def median_time(repeat: int, func: Callable[[], object]) -> float:
    """Median wall time [s] of ``repeat`` calls of ``func``."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        func()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def cpu_model() -> str:
    """The CPU model name (from /proc/cpuinfo on Linux), for reports."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def emit(report: Mapping[str, object], as_json: bool) -> None:
    """Print the report as one JSON object or as aligned ``key: value`` lines."""
    if as_json:
        print(json.dumps(report))
        return
    width = max(map(len, report))
    for key, value in report.items():
        print(f"{key:>{width}}: {value}")
