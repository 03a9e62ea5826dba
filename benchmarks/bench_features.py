"""Benchmark: the PM2.5 history features (lags and rolling windows) for every site and hour.

Times, in one run, on the same generated panel (``--sites`` × ``--steps`` hourly values,
integer µg/m³ with a diurnal cycle, episodes and ~6 % missing hours):

- ``kernel_s``: :func:`features.kernels.pm25_history` — 8 lags (1, 2, 3, 6, 12, 24, 48, 72 h)
  and mean, standard deviation, min and max over 3, 6, 12, 24 and 72 h (28 columns, float64
  accumulation, float32 output ``(sites × steps, 28)`` ready for LightGBM, written into a
  reused buffer); ``kernel_cold_s`` its first call in this process (cache load or compile,
  plus first touch of the buffer) and ``kernel_compile_s`` its compile time measured in a
  subprocess with an empty Numba cache;
- ``coreforecast_s``: Nixtla's coreforecast, the fastest public peer: ``GroupedArray`` (float32,
  ``num_threads=2``) with ``Lag`` and ``RollingMean/Std/Min/Max(lag=0, skipna=True)`` — the same
  28 columns, as 28 separate float32 arrays (``coreforecast_stack_s``: the extra time to stack
  them into the one matrix LightGBM wants, not counted in the ratio);
- ``pandas_s``: ``groupby().shift / rolling`` in float64 on the first ``pandas_sites`` sites,
  scaled linearly to all sites (``pandas_scale``);
- ``write_floor_s``: the floor of writing the same output array alone (the faster of a
  two-thread Numba fill and NumPy's ``fill``, into the same, already touched buffer);

(kernel, floor and coreforecast are timed in interleaved rounds, so that other jobs on the
machine slow them alike; ``*_paired_median`` are the medians of the per-round ratios)

and reports ``ratio_vs_coreforecast`` (kernel / coreforecast), ``ratio_vs_floor`` (kernel /
floor), ``speedup_vs_pandas``, the largest relative errors against pandas float64 on the pandas
sites (``max_rel_err_mean`` for the means; also per statistic, and coreforecast's), peak
memory (tracemalloc, per method, output included) and the CPU. Warm times are medians of
``--repeat`` runs. Usage::

    python benchmarks/bench_features.py [--sites 1000] [--steps 30000] [--repeat 5] [--json]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numba
import numpy as np
import numpy.typing as npt
import pandas as pd

from features import kernels
from features.config import FeatureConfig
from features.synthetic import pm25_panel

LAGS_H = (1, 2, 3, 6, 12, 24, 48, 72)
WINDOWS_H = (3, 6, 12, 24, 72)
CONFIG = FeatureConfig(
    lags_h=LAGS_H,
    windows_h=WINDOWS_H,
    ewm_halflives_h=(),
    diurnal_days=0,
    rise_h=0,
    exceedance_thresholds=(),
    episode_threshold=None,
)
PARAMS = CONFIG.resolve(1.0)
N_FEATURES = PARAMS.n_history
STATS = ("mean", "std", "min", "max")


def cpu_model() -> str:
    try:
        with Path("/proc/cpuinfo").open(encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def median_time(repeat: int, fn: Callable[[], object]) -> tuple[float, list[float]]:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), times


def peak_mb(fn: Callable[[], object]) -> float:
    tracemalloc.start()
    try:
        result = fn()
        _, peak = tracemalloc.get_traced_memory()
        del result
    finally:
        tracemalloc.stop()
    return peak / 2**20


# --------------------------------------------------------------------------- the three ways
def run_kernel(x: npt.NDArray[np.float64], out: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    issue = np.arange(x.shape[1], dtype=np.int64)
    kernels.pm25_history(x, 0, issue, 1, out, 0, *PARAMS.history_args())
    return out


def coreforecast_transforms() -> list[Any]:
    from coreforecast.lag_transforms import Lag, RollingMax, RollingMean, RollingMin, RollingStd

    tfms: list[Any] = [Lag(k) for k in PARAMS.lag_steps]
    for w, m in zip(PARAMS.win_steps, PARAMS.win_min, strict=True):
        for cls in (RollingMean, RollingStd, RollingMin, RollingMax):
            tfms.append(cls(lag=0, window_size=int(w), min_samples=int(m), skipna=True))
    return tfms


def run_coreforecast(ga: Any, tfms: list[Any]) -> list[npt.NDArray[np.float32]]:
    return [t.transform(ga) for t in tfms]


def run_pandas(x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    n_sites, n_steps = x.shape
    df = pd.DataFrame({"site": np.repeat(np.arange(n_sites), n_steps), "y": x.ravel()})
    g = df.groupby("site", sort=False)["y"]
    cols: dict[str, pd.Series] = {}
    for k in PARAMS.lag_steps:
        cols[f"lag{k}"] = g.shift(int(k))
    for w, m in zip(PARAMS.win_steps, PARAMS.win_min, strict=True):
        roll = g.rolling(int(w), min_periods=int(m))
        for stat in STATS:
            res = getattr(roll, stat)() if stat != "std" else roll.std(ddof=1)
            cols[f"{stat}{w}"] = res.reset_index(level=0, drop=True)
    return pd.DataFrame(cols).to_numpy(np.float64)


# --------------------------------------------------------------------------- errors
def run_exact(x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """The same 28 columns straight from the definition: every window on its own, two-pass."""
    n_steps = x.shape[1]
    cols = [np.vstack([np.r_[np.full(k, np.nan), row[: n_steps - k]] for row in x]).ravel()
            for k in PARAMS.lag_steps]  # fmt: skip
    for w, m in zip(PARAMS.win_steps, PARAMS.win_min, strict=True):
        stats: dict[str, list[npt.NDArray[np.float64]]] = {s: [] for s in STATS}
        for row in x:
            win = np.lib.stride_tricks.sliding_window_view(
                np.r_[np.full(int(w) - 1, np.nan), row], int(w)
            )
            count = np.sum(~np.isnan(win), axis=1)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN windows
                values = {
                    "mean": np.nanmean(win, axis=1),
                    "std": np.nanstd(win, axis=1, ddof=1),
                    "min": np.nanmin(win, axis=1),
                    "max": np.nanmax(win, axis=1),
                }
            for s in STATS:
                ok = count >= (max(int(m), 2) if s == "std" else int(m))
                stats[s].append(np.where(ok, values[s], np.nan))
        cols += [np.concatenate(stats[s]) for s in STATS]
    return np.column_stack(cols)


def max_rel_err(a: npt.NDArray[Any], ref: npt.NDArray[np.float64]) -> tuple[float, int]:
    """Largest |a - ref| / |ref| over finite reference values (0 where both are 0), and the
    number of NaN-pattern disagreements."""
    a = a.astype(np.float64)
    nan_mismatch = int((np.isnan(a) != np.isnan(ref)).sum())
    ok = ~np.isnan(a) & ~np.isnan(ref)
    diff = np.abs(a[ok] - ref[ok])
    scale = np.abs(ref[ok])
    rel = np.divide(diff, scale, out=np.where(diff == 0, 0.0, np.inf), where=scale > 0)
    return (float(rel.max()) if rel.size else 0.0), nan_mismatch


def errors(label: str, got: npt.NDArray[Any], ref: npt.NDArray[np.float64]) -> dict[str, Any]:
    """``{label}max_rel_err_<lag|mean|std|min|max>`` and ``{label}nan_pattern_mismatches``."""
    nl = len(PARAMS.lag_steps)
    out: dict[str, Any] = {}
    err, nan_bad = max_rel_err(got[:, :nl], ref[:, :nl])
    out[f"{label}max_rel_err_lag"] = err
    total_nan_bad = nan_bad
    for k, stat in enumerate(STATS):
        cols = [nl + 4 * j + k for j in range(len(PARAMS.win_steps))]
        err, nan_bad = max_rel_err(got[:, cols], ref[:, cols])
        out[f"{label}max_rel_err_{stat}"] = err
        if stat == "std":  # relative error is infinite where the exact value is 0
            both = ~np.isnan(got[:, cols]) & ~np.isnan(ref[:, cols])
            diff = np.abs(got[:, cols].astype(np.float64) - ref[:, cols])[both]
            out[f"{label}max_abs_err_std"] = float(diff.max()) if diff.size else 0.0
        total_nan_bad += nan_bad
    out[f"{label}nan_pattern_mismatches"] = total_nan_bad
    return out


# --------------------------------------------------------------------------- compile time
_COMPILE_SNIPPET = """
import time, numpy as np
t0 = time.perf_counter()
from features import kernels
from features.config import FeatureConfig
import_s = time.perf_counter() - t0
c = FeatureConfig(ewm_halflives_h=(), diurnal_days=0, rise_h=0, exceedance_thresholds=(),
                  episode_threshold=None)
p = c.resolve(1.0)
x = np.random.default_rng(0).gamma(2.0, 40.0, (20, 500))
out = np.empty((20 * 500, p.n_history), np.float32)
t0 = time.perf_counter()
kernels.pm25_history(x, 0, np.arange(500), 1, out, 0, *p.history_args())
print(import_s, time.perf_counter() - t0)
"""


def compile_seconds() -> float | None:
    """First-call time of the kernel in a fresh process with an empty Numba cache."""
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "WCS_NUMBA_CACHE_DIR": tmp, "NUMBA_CACHE_DIR": tmp}
        proc = subprocess.run(
            [sys.executable, "-c", _COMPILE_SNIPPET],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
    if proc.returncode != 0:
        print(proc.stderr, file=sys.stderr)
        return None
    return float(proc.stdout.split()[-1])


# --------------------------------------------------------------------------- main
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=1000)
    parser.add_argument("--steps", type=int, default=30_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--pandas-sites", type=int, default=50)
    parser.add_argument("--pandas-repeat", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2, help="coreforecast num_threads")
    parser.add_argument("--no-compile", action="store_true", help="skip the compile-time run")
    parser.add_argument("--json", action="store_true", help="print only the JSON object")
    args = parser.parse_args()

    def say(msg: str) -> None:
        if not args.json:
            print(msg, file=sys.stderr, flush=True)

    from coreforecast.grouped_array import GroupedArray

    n_sites, n_steps = args.sites, args.steps
    n_rows = n_sites * n_steps
    say(f"generating {n_sites} × {n_steps} ...")
    x = pm25_panel(n_sites, n_steps, seed=0)
    x32 = x.astype(np.float32)
    report: dict[str, Any] = {
        "sites": n_sites,
        "steps": n_steps,
        "rows": n_rows,
        "features": N_FEATURES,
        "output_gb": round(n_rows * N_FEATURES * 4 / 1e9, 3),
    }

    # ---- our kernel: cold (this process), compile (fresh process), warm (reused buffer)
    out = np.empty((n_rows, N_FEATURES), np.float32)
    t0 = time.perf_counter()
    run_kernel(x, out)
    report["kernel_cold_s"] = time.perf_counter() - t0
    if not args.no_compile:
        say("compile time (fresh process, empty cache) ...")
        report["kernel_compile_s"] = compile_seconds()
    t0 = time.perf_counter()
    fresh = np.empty((n_rows, N_FEATURES), np.float32)
    run_kernel(x, fresh)
    report["kernel_fresh_buffer_s"] = time.perf_counter() - t0
    del fresh
    indptr = np.arange(0, n_rows + 1, n_steps, dtype=np.int32)
    ga = GroupedArray(x32.ravel(), indptr, num_threads=args.threads)
    tfms = coreforecast_transforms()
    t0 = time.perf_counter()
    cf_first = run_coreforecast(ga, tfms)
    report["coreforecast_cold_s"] = time.perf_counter() - t0
    del cf_first
    kernels.fill_floor(out[:1], np.float32(0.0))

    # ---- warm times, interleaved round by round (kernel, floor, coreforecast), so that other
    # jobs on the machine slow all three alike; the floor writes the same, already touched
    # buffer with both threads (NumPy's single-threaded fill is timed too, the faster counts)
    say(f"{args.repeat} rounds of kernel / write floor / coreforecast ...")
    runs: dict[str, list[float]] = {"kernel": [], "floor": [], "coreforecast": []}
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        run_kernel(x, out)
        runs["kernel"].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        kernels.fill_floor(out, np.float32(1.0))
        runs["floor"].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        cf = run_coreforecast(ga, tfms)
        runs["coreforecast"].append(time.perf_counter() - t0)
        del cf
    floor_numpy, _ = median_time(max(1, args.repeat // 2), lambda: out.fill(1.0))
    report["kernel_s"] = statistics.median(runs["kernel"])
    report["kernel_runs_s"] = runs["kernel"]
    report["write_floor_numba_s"] = statistics.median(runs["floor"])
    report["write_floor_numba_runs_s"] = runs["floor"]
    report["write_floor_numpy_s"] = floor_numpy
    report["write_floor_s"] = min(report["write_floor_numba_s"], floor_numpy)
    report["coreforecast_s"] = statistics.median(runs["coreforecast"])
    report["coreforecast_runs_s"] = runs["coreforecast"]
    report["ratio_vs_floor_paired_median"] = statistics.median(
        k / f for k, f in zip(runs["kernel"], runs["floor"], strict=True)
    )
    report["ratio_vs_coreforecast_paired_median"] = statistics.median(
        k / c for k, c in zip(runs["kernel"], runs["coreforecast"], strict=True)
    )
    run_kernel(x, out)  # restore the features for the error check
    report["kernel_peak_mb"] = peak_mb(
        lambda: run_kernel(x, np.empty((n_rows, N_FEATURES), np.float32))
    )
    cf = run_coreforecast(ga, tfms)
    t0 = time.perf_counter()
    stacked = np.column_stack(cf)
    report["coreforecast_stack_s"] = time.perf_counter() - t0
    del stacked, cf
    report["coreforecast_peak_mb"] = peak_mb(lambda: run_coreforecast(ga, tfms))

    # ---- pandas float64 on a subset, scaled
    n_p = min(args.pandas_sites, n_sites)
    say(f"pandas on {n_p} sites ...")
    xp = x[:n_p]
    pandas_sub, _ = median_time(args.pandas_repeat, lambda: run_pandas(xp))
    scale = n_sites / n_p
    report["pandas_sites"] = n_p
    report["pandas_scale"] = scale
    report["pandas_subset_s"] = pandas_sub
    report["pandas_s"] = pandas_sub * scale
    report["pandas_peak_mb"] = peak_mb(lambda: run_pandas(xp)) * scale
    ref = run_pandas(xp)

    # ---- errors on the pandas sites: against pandas float64 (the goal's measure), and
    # against an exact two-pass float64 reference (pandas' own rolling std drifts: it gives
    # ~1e-6 instead of 0 for a constant window after varying values)
    say("errors ...")
    ours = out[: n_p * n_steps]
    ga_p = GroupedArray(x32[:n_p].ravel(), indptr[: n_p + 1], num_threads=args.threads)
    theirs = np.column_stack(run_coreforecast(ga_p, tfms))
    exact = run_exact(xp)
    report |= errors("", ours, ref)
    report |= errors("exact_", ours, exact)
    report |= errors("coreforecast_exact_", theirs, exact)
    report |= errors("pandas_exact_", ref, exact)

    # ---- summary
    report["ratio_vs_coreforecast"] = report["kernel_s"] / report["coreforecast_s"]
    report["ratio_vs_floor"] = report["kernel_s"] / report["write_floor_s"]
    report["speedup_vs_pandas"] = report["pandas_s"] / report["kernel_s"]
    report["max_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    report["cpu"] = cpu_model()
    report["cpus"] = os.cpu_count()
    report["numba_threads"] = numba.get_num_threads()
    report["coreforecast_threads"] = args.threads
    report["repeat"] = args.repeat
    report["versions"] = {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "pandas": pd.__version__,
        "numba": numba.__version__,
        "coreforecast": __import__("coreforecast").__version__,
    }
    for k, v in list(report.items()):
        if isinstance(v, float):
            # strict JSON has no Infinity: a relative error against an exact 0 is "inf"
            report[k] = float(f"{v:.4g}") if math.isfinite(v) else str(v)
        elif isinstance(v, list):
            report[k] = [float(f"{t:.4g}") for t in v]
    print(json.dumps(report, indent=None if args.json else 2))


if __name__ == "__main__":
    main()
