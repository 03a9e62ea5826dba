"""Train/test splits for back-testing without leakage: rolling origin over whole winters.

Samples are the rows of the feature matrix, ``(site, issue, lead)`` flattened; each has an
**issue time** (when the forecast is made) and a **target time** (the stamp of the value it
forecasts: for daily data the Beijing day's start, 16:00 UTC the day before; see
:mod:`models.baselines`). All times are naive UTC; seasons and dates are **Beijing** dates.

Rules (checked on every fold by :func:`check_fold`):

* A test set is the samples *issued* in the test window: for :func:`rolling_origin_winters`
  one whole autumn–winter campaign, 1 October 00:00 – 31 March 24:00 Beijing time. Its
  targets may run up to the horizon past 31 March.
* A training sample is kept only if its **target** time ``T`` satisfies
  ``T + gap <= test_start`` (``test_start`` = the window's first instant, so also ≤ the first
  test issue). The target, not the issue time, is what counts: a lead-7 sample issued 3 days
  before the test window would otherwise train on a value the test period forecasts. Since a
  target is never before its issue, training issue times are at least ``gap`` before the test
  window too, and the training and test sets never share a sample.
* ``gap`` defaults to the horizon and may not be smaller (``ValueError``). Daily target
  stamps are the *start* of a 24-hour mean; with a gap of at least one day the last training
  day still ends before the test window opens.
* When only issue times are given, every sample's target is taken as ``issue + horizon`` (the
  longest lead): conservative for shorter leads. Pass ``target_times`` (issue + lead per row)
  to keep every training sample the rule allows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pandas as pd

from forecast.timeutil import as_naive_utc, beijing_to_utc, utc_to_beijing

#: The autumn–winter campaign (Beijing month-day, inclusive).
WINTER: Final = ("10-01", "03-31")
#: The skill experiments: train to 30 Sep 2015, test the winter 2015/16 (Beijing dates).
SKILL_SPLIT: Final = {
    "train_until": "2015-09-30",
    "test_from": "2015-10-01",
    "test_to": "2016-03-31",
}

IntArray = npt.NDArray[np.int64]
_ZERO: Final = pd.Timedelta(0)


@dataclass(frozen=True, eq=False)
class Fold:
    """One train/test split. Indices are positions in the ``times`` given.

    ``train_end``: the last training *target* time; ``test_start`` / ``test_end``: the test
    window's first instant and its end (exclusive), naive UTC (00:00 Beijing time on the first
    test day and on the day after the last one).
    """

    train_index: IntArray
    test_index: IntArray
    train_end: pd.Timestamp
    test_start: pd.Timestamp
    test_end: pd.Timestamp
    gap: pd.Timedelta = _ZERO
    label: str = ""

    def __repr__(self) -> str:
        return (
            f"Fold({self.label or 'fold'}: train {self.train_index.size} samples to "
            f"{self.train_end}, test {self.test_index.size} samples issued "
            f"{self.test_start} – {self.test_end} UTC, gap {self.gap})"
        )


def _timedelta(value: Any, what: str) -> pd.Timedelta:
    """int → days; str / timedelta / Timedelta → Timedelta; must be ≥ 0."""
    if isinstance(value, bool):
        raise TypeError(f"{what}: expected days or a timedelta, got {value!r}")
    td = pd.Timedelta(days=value) if isinstance(value, int | np.integer) else pd.Timedelta(value)
    if pd.isna(td) or td < pd.Timedelta(0):
        raise ValueError(f"{what} must be a non-negative duration, got {value!r}")
    return td


def _times(values: Any, what: str) -> pd.DatetimeIndex:
    idx = as_naive_utc(values if isinstance(values, pd.DatetimeIndex) else np.ravel(values))
    if idx.size == 0:
        raise ValueError(f"{what}: no times")
    return idx


def _issue_and_target(
    times: Any, target_times: Any, horizon: pd.Timedelta | None
) -> tuple[pd.DatetimeIndex, pd.DatetimeIndex, pd.Timedelta]:
    issues = _times(times, "times")
    if target_times is None:
        if horizon is None:
            raise ValueError("give the horizon or the target time of every sample")
        targets = issues + horizon
    else:
        targets = _times(target_times, "target_times")
        if targets.size != issues.size:
            raise ValueError(
                f"{targets.size} target times for {issues.size} issue times; give one per sample"
            )
        lead = np.asarray(targets - issues)
        ok = ~np.isnat(lead)
        if np.any(lead[ok] < np.timedelta64(0, "ns")):
            raise ValueError("a target time is before its issue time")
        longest = pd.Timedelta(lead[ok].max()) if ok.any() else pd.Timedelta(0)
        if horizon is None:
            horizon = longest
        elif longest > horizon:
            raise ValueError(f"a sample's lead ({longest}) exceeds the horizon ({horizon})")
    return issues, targets, horizon


def _gap(gap: Any, horizon: pd.Timedelta) -> pd.Timedelta:
    g = horizon if gap is None else _timedelta(gap, "gap")
    if g < horizon:
        raise ValueError(f"gap ({g}) must be at least the horizon ({horizon})")
    return g


def _bj_midnight(day: Any) -> pd.Timestamp:
    """00:00 Beijing time of a Beijing date, as a naive UTC Timestamp."""
    return pd.Timestamp(beijing_to_utc(pd.DatetimeIndex([pd.Timestamp(day).normalize()]))[0])


def _season_bounds(winter: int, season: Sequence[str]) -> tuple[pd.Timestamp, pd.Timestamp]:
    """Beijing first and last dates of the season starting in year ``winter``."""
    start_md, end_md = season
    first = pd.Timestamp(f"{winter}-{start_md}")
    last = pd.Timestamp(f"{winter}-{end_md}")
    if last < first:  # the season wraps the new year (October – March)
        last = pd.Timestamp(f"{winter + 1}-{end_md}")
    return first, last


def winter_of(times: Any, season: Sequence[str] = WINTER) -> npt.NDArray[np.int64]:
    """The year the season of each (UTC) time started in (2015 for Jan 2016), −1 outside it."""
    bj = utc_to_beijing(_times(times, "times"))
    out = np.full(bj.size, -1, dtype=np.int64)
    days = bj.normalize()
    for year in np.unique(bj.year[~bj.isna()]):
        for winter in (int(year) - 1, int(year)):
            first, last = _season_bounds(winter, season)
            out[np.asarray((days >= first) & (days <= last))] = winter
    return out


def _make_fold(
    issues: pd.DatetimeIndex,
    targets: pd.DatetimeIndex,
    *,
    test_start: pd.Timestamp,
    test_end: pd.Timestamp,
    gap: pd.Timedelta,
    label: str,
    train_mask: npt.NDArray[np.bool_] | None = None,
) -> Fold:
    ok = np.asarray(~issues.isna() & ~targets.isna())
    in_train = ok & np.asarray(targets + gap <= test_start)
    if train_mask is not None:
        in_train &= train_mask
    in_test = ok & np.asarray((issues >= test_start) & (issues < test_end))
    train_index = np.flatnonzero(in_train).astype(np.int64)
    test_index = np.flatnonzero(in_test).astype(np.int64)
    if train_index.size == 0:
        raise ValueError(f"{label}: no training sample ends at least {gap} before {test_start}")
    if test_index.size == 0:
        raise ValueError(f"{label}: no sample issued in {test_start} – {test_end} (UTC)")
    fold = Fold(
        train_index=train_index,
        test_index=test_index,
        train_end=pd.Timestamp(targets[train_index].max()),
        test_start=test_start,
        test_end=test_end,
        gap=gap,
        label=label,
    )
    check_fold(fold, issues, targets)
    return fold


def check_fold(fold: Fold, times: Any, target_times: Any) -> None:
    """Assert the fold's guarantees on the samples' issue and target times (raises
    ``AssertionError`` naming the broken rule): disjoint sets, every training target at least
    ``gap`` before the test window, every test issue inside it."""
    issues = _times(times, "times")
    targets = _times(target_times, "target_times")
    overlap = np.intersect1d(fold.train_index, fold.test_index)
    if overlap.size:
        raise AssertionError(f"{fold.label}: {overlap.size} samples in both train and test")
    last_target = targets[fold.train_index].max()
    if not last_target + fold.gap <= fold.test_start:
        raise AssertionError(
            f"{fold.label}: training target {last_target} is less than {fold.gap} before the "
            f"test start {fold.test_start}"
        )
    if not issues[fold.train_index].max() < fold.test_start:
        raise AssertionError(f"{fold.label}: a training sample is issued in the test window")
    test_issues = issues[fold.test_index]
    if not (test_issues.min() >= fold.test_start and test_issues.max() < fold.test_end):
        raise AssertionError(f"{fold.label}: a test sample is issued outside the test window")


def rolling_origin_winters(
    times: Any,
    *,
    first_test_winter: int,
    horizon: Any,
    gap: Any = None,
    season: Sequence[str] = WINTER,
    target_times: Any = None,
    last_test_winter: int | None = None,
) -> list[Fold]:
    """One fold per whole autumn–winter from ``first_test_winter`` (the year of its October).

    ``times``: the samples' issue times (naive UTC, one per row); ``horizon``: the longest lead
    (int = days, or a duration); ``gap`` ≥ horizon, default the horizon; ``target_times``: the
    samples' target times (default issue + horizon). Each fold tests the samples issued in the
    Beijing dates ``season`` (default 1 Oct – 31 Mar) and trains on every sample whose target is
    at least ``gap`` before that window (an expanding window: earlier test winters are trained
    on by later folds). Winters are included up to ``last_test_winter``, by default the last one
    whose final day has an issue time (a winter cut short by the end of the data is not
    tested: it would not be a *whole* winter).
    """
    hz = _timedelta(horizon, "horizon")
    issues, targets, hz = _issue_and_target(times, target_times, hz)
    g = _gap(gap, hz)
    bj_days = utc_to_beijing(issues).normalize()
    last_day = bj_days.max()
    if last_test_winter is None:
        last_test_winter = first_test_winter - 1
        while _season_bounds(last_test_winter + 1, season)[1] <= last_day:
            last_test_winter += 1
    folds: list[Fold] = []
    for winter in range(first_test_winter, last_test_winter + 1):
        first, last = _season_bounds(winter, season)
        label = f"{winter}/{(winter + 1) % 100:02d}" if last.year > first.year else str(winter)
        folds.append(
            _make_fold(
                issues,
                targets,
                test_start=_bj_midnight(first),
                test_end=_bj_midnight(last + pd.Timedelta(days=1)),
                gap=g,
                label=label,
            )
        )
    if not folds:
        raise ValueError(
            f"no whole test winter from {first_test_winter} in data ending {last_day.date()}"
        )
    return folds


def fixed_split(
    times: Any,
    train_until: Any,
    test_from: Any,
    test_to: Any,
    gap: Any = None,
    *,
    horizon: Any = None,
    target_times: Any = None,
) -> Fold:
    """One split on Beijing dates: train on targets up to ``train_until`` (inclusive) and at
    least ``gap`` before the test window; test the samples issued from ``test_from`` to
    ``test_to`` (inclusive). E.g. the skill experiments: ``fixed_split(times, **SKILL_SPLIT,
    horizon=7)`` tests October 2015 – March 2016 and trains on targets up to 2015-09-30, which
    the 7-day gap cuts to the Beijing day 24 September (stamp 2015-09-23 16:00 UTC).

    Give ``horizon`` (int = days, or a duration) or ``target_times`` (or both); ``gap`` ≥ the
    horizon, default the horizon.
    """
    hz = None if horizon is None else _timedelta(horizon, "horizon")
    issues, targets, hz = _issue_and_target(times, target_times, hz)
    g = _gap(gap, hz)
    until = pd.Timestamp(train_until).normalize()
    first, last = pd.Timestamp(test_from).normalize(), pd.Timestamp(test_to).normalize()
    if not until < first <= last:
        raise ValueError(
            f"expected train_until < test_from <= test_to, got {until.date()}, "
            f"{first.date()}, {last.date()}"
        )
    train_mask = np.asarray(targets < _bj_midnight(until + pd.Timedelta(days=1)))
    return _make_fold(
        issues,
        targets,
        test_start=_bj_midnight(first),
        test_end=_bj_midnight(last + pd.Timedelta(days=1)),
        gap=g,
        label=f"test {first.date()} – {last.date()}",
        train_mask=train_mask,
    )
