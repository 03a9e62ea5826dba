"""Tests of models.splits: whole winters, gaps that count the lead, exact fixed-split dates."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecast.timeutil import utc_to_beijing
from models.baselines import daily_issue_times, target_times
from models.splits import (
    SKILL_SPLIT,
    Fold,
    check_fold,
    fixed_split,
    rolling_origin_winters,
    winter_of,
)

LEADS = list(range(1, 8))


def rows(
    first: str, last: str, leads: list[int] = LEADS
) -> tuple[pd.DatetimeIndex, pd.DatetimeIndex]:
    """Issue and target times of every (issue, lead) row, issue-major, daily issues 10:00 BJT."""
    issues = daily_issue_times(first, last)
    tt = target_times(issues, leads, "D")
    return pd.DatetimeIndex(np.repeat(issues, len(leads))), pd.DatetimeIndex(tt.ravel())


def bj_dates(times: pd.DatetimeIndex) -> pd.DatetimeIndex:
    return utc_to_beijing(times).normalize()


def test_folds_cover_whole_winters() -> None:
    issues, targets = rows("2012-10-01", "2017-05-15")
    folds = rolling_origin_winters(issues, first_test_winter=2014, horizon=7, target_times=targets)
    assert [f.label for f in folds] == ["2014/15", "2015/16", "2016/17"]
    for fold, year in zip(folds, (2014, 2015, 2016), strict=True):
        days = bj_dates(issues[fold.test_index])
        assert days.min() == pd.Timestamp(f"{year}-10-01")
        assert days.max() == pd.Timestamp(f"{year + 1}-03-31")
        n_days = (pd.Timestamp(f"{year + 1}-04-01") - pd.Timestamp(f"{year}-10-01")).days
        assert days.nunique() == n_days  # every day of the winter, none missing
        assert fold.test_index.size == n_days * len(LEADS)  # every lead of every day
        assert fold.test_start == pd.Timestamp(f"{year}-09-30 16:00")  # 00:00 BJT 1 Oct
        assert fold.test_end == pd.Timestamp(f"{year + 1}-03-31 16:00")  # 00:00 BJT 1 Apr
    assert sum(f.test_index.size for f in folds) == 182 * 7 + 183 * 7 + 182 * 7


def test_incomplete_last_winter_is_not_tested() -> None:
    issues, targets = rows("2012-10-01", "2017-03-15")
    folds = rolling_origin_winters(issues, first_test_winter=2014, horizon=7, target_times=targets)
    assert [f.label for f in folds] == ["2014/15", "2015/16"]
    # 31 March itself must have an issue for the winter to count
    issues, targets = rows("2012-10-01", "2016-03-31")
    folds = rolling_origin_winters(issues, first_test_winter=2014, horizon=7, target_times=targets)
    assert [f.label for f in folds][-1] == "2015/16"


def test_gap_counts_the_lead() -> None:
    issues, targets = rows("2012-10-01", "2016-05-01")
    folds = rolling_origin_winters(issues, first_test_winter=2014, horizon=7, target_times=targets)
    for fold in folds:
        train_targets = targets[fold.train_index]
        assert train_targets.max() + pd.Timedelta(days=7) <= fold.test_start
        assert fold.train_end == train_targets.max()
        # the last allowed training target is exactly a week before the test window:
        # the Beijing day 24 September (stamp 16:00 UTC 23 September)
        assert fold.train_end == fold.test_start - pd.Timedelta(days=7)
        # a lead-1 row issued 22 September (target 23 Sep) is in; its lead-7 row (target 29 Sep)
        # is out although both were issued at the same time
        year = fold.test_start.year
        issued_22 = np.flatnonzero(bj_dates(issues) == pd.Timestamp(f"{year}-09-22"))
        lead1, lead7 = issued_22[0], issued_22[6]
        assert lead1 in set(fold.train_index)
        assert lead7 not in set(fold.train_index)
        assert lead7 not in set(fold.test_index)
        assert np.intersect1d(fold.train_index, fold.test_index).size == 0


def test_default_targets_are_conservative() -> None:
    issues, targets = rows("2012-10-01", "2016-05-01")
    exact = rolling_origin_winters(issues, first_test_winter=2015, horizon=7, target_times=targets)
    conservative = rolling_origin_winters(issues, first_test_winter=2015, horizon=7)
    assert set(conservative[0].train_index) < set(exact[0].train_index)
    last_issue = issues[conservative[0].train_index].max()
    assert last_issue + pd.Timedelta(days=14) <= conservative[0].test_start
    np.testing.assert_array_equal(conservative[0].test_index, exact[0].test_index)


def test_expanding_window_and_larger_gap() -> None:
    issues, targets = rows("2012-10-01", "2016-05-01")
    folds = rolling_origin_winters(
        issues, first_test_winter=2014, horizon=7, gap=pd.Timedelta(days=10), target_times=targets
    )
    assert folds[0].gap == pd.Timedelta(days=10)
    assert folds[0].train_end == folds[0].test_start - pd.Timedelta(days=10)
    # the second fold trains on the first fold's test winter
    assert set(folds[0].test_index) <= set(folds[1].train_index)
    assert set(folds[0].train_index) < set(folds[1].train_index)


def test_gap_shorter_than_horizon_refused() -> None:
    issues, targets = rows("2012-10-01", "2016-05-01")
    with pytest.raises(ValueError, match="at least the horizon"):
        rolling_origin_winters(issues, first_test_winter=2014, horizon=7, gap=3)
    with pytest.raises(ValueError, match="exceeds the horizon"):
        rolling_origin_winters(issues, first_test_winter=2014, horizon=3, target_times=targets)
    with pytest.raises(ValueError, match="no training sample"):
        rolling_origin_winters(issues, first_test_winter=2012, horizon=7, target_times=targets)


def test_indices_are_positions_in_unsorted_input() -> None:
    issues, targets = rows("2013-09-01", "2015-04-30")
    order = np.random.default_rng(0).permutation(issues.size)
    shuffled_i, shuffled_t = issues[order], targets[order]
    (fold,) = rolling_origin_winters(
        shuffled_i, first_test_winter=2014, horizon=7, target_times=shuffled_t
    )
    (ref,) = rolling_origin_winters(issues, first_test_winter=2014, horizon=7, target_times=targets)
    assert set(order[fold.train_index]) == set(ref.train_index)
    assert set(order[fold.test_index]) == set(ref.test_index)


def test_fixed_split_dates_exactly() -> None:
    issues, targets = rows("2013-01-01", "2016-06-30")
    fold = fixed_split(issues, **SKILL_SPLIT, gap=7, target_times=targets)
    assert SKILL_SPLIT == {
        "train_until": "2015-09-30", "test_from": "2015-10-01", "test_to": "2016-03-31"
    }  # fmt: skip
    assert fold.test_start == pd.Timestamp("2015-09-30 16:00")
    assert fold.test_end == pd.Timestamp("2016-03-31 16:00")
    test_days = bj_dates(issues[fold.test_index])
    assert test_days.min() == pd.Timestamp("2015-10-01")
    assert test_days.max() == pd.Timestamp("2016-03-31")
    assert test_days.nunique() == 183
    # the 7-day gap moves the last training target to the Beijing day 24 September
    assert bj_dates(pd.DatetimeIndex([fold.train_end]))[0] == pd.Timestamp("2015-09-24")
    assert bj_dates(targets[fold.train_index]).min() == pd.Timestamp("2013-01-02")
    # an earlier train_until binds instead of the gap
    early = fixed_split(issues, "2015-06-30", "2015-10-01", "2016-03-31", 7, target_times=targets)
    assert bj_dates(pd.DatetimeIndex([early.train_end]))[0] == pd.Timestamp("2015-06-30")
    np.testing.assert_array_equal(early.test_index, fold.test_index)
    check_fold(early, issues, targets)


def test_fixed_split_argument_checks() -> None:
    issues, targets = rows("2013-01-01", "2016-06-30")
    with pytest.raises(ValueError, match="train_until < test_from"):
        fixed_split(issues, "2015-10-01", "2015-10-01", "2016-03-31", 7, target_times=targets)
    with pytest.raises(ValueError, match="horizon or the target time"):
        fixed_split(issues, **SKILL_SPLIT)
    with pytest.raises(ValueError, match="at least the horizon"):
        fixed_split(issues, **SKILL_SPLIT, gap=2, target_times=targets)
    # horizon alone: targets = issue + 7 days
    fold = fixed_split(issues, **SKILL_SPLIT, horizon=7)
    assert issues[fold.train_index].max() + pd.Timedelta(days=14) <= fold.test_start


def test_check_fold_catches_leaks() -> None:
    issues, targets = rows("2013-09-01", "2015-04-30")
    (fold,) = rolling_origin_winters(
        issues, first_test_winter=2014, horizon=7, target_times=targets
    )
    check_fold(fold, issues, targets)
    # add the lead-7 row issued 28 September to training: its target is in the gap
    leak = np.flatnonzero(bj_dates(issues) == pd.Timestamp("2014-09-28"))[6]
    bad = Fold(
        train_index=np.sort(np.r_[fold.train_index, leak]),
        test_index=fold.test_index,
        train_end=fold.train_end,
        test_start=fold.test_start,
        test_end=fold.test_end,
        gap=fold.gap,
        label="leaky",
    )
    with pytest.raises(AssertionError, match="less than 7 days"):
        check_fold(bad, issues, targets)
    shared = Fold(
        fold.train_index, np.r_[fold.test_index, fold.train_index[:1]], fold.train_end,
        fold.test_start, fold.test_end, fold.gap, "shared",
    )  # fmt: skip
    with pytest.raises(AssertionError, match="in both train and test"):
        check_fold(shared, issues, targets)


def test_winter_of() -> None:
    times = pd.DatetimeIndex(
        [
            "2015-09-30 15:59",  # 23:59 BJT 30 Sep → outside
            "2015-09-30 16:00",  # 00:00 BJT 1 Oct → winter 2015
            "2016-02-29 02:00",
            "2016-03-31 15:00",  # 23:00 BJT 31 Mar → winter 2015
            "2016-03-31 16:00",  # 00:00 BJT 1 Apr → outside
            "2016-07-01 00:00",
        ]
    )
    assert list(winter_of(times)) == [-1, 2015, 2015, 2015, -1, -1]
