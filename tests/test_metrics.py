"""Tests of models.metrics against hand-computed cases and scikit-learn."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import brier_score_loss, mean_absolute_error, mean_squared_error

from models.metrics import (
    Contingency,
    aqi_category_accuracy,
    aqi_category_index,
    bias,
    brier_score,
    common_valid,
    contingency,
    csi,
    far,
    mae,
    pod,
    reliability_table,
    rmse,
    score_block,
    warning_level_hit_rate,
)

OBS = np.array([10.0, 80.0, 160.0, 200.0, 40.0, 300.0, 151.0, 150.0])
FC = np.array([20.0, 60.0, 170.0, 120.0, 160.0, 260.0, 140.0, 155.0])


def test_continuous_hand_computed() -> None:
    obs = np.array([1.0, 2.0, 3.0, 4.0])
    fc = np.array([2.0, 2.0, 1.0, 8.0])  # errors +1, 0, -2, +4
    assert rmse(obs, fc) == pytest.approx(math.sqrt((1 + 0 + 4 + 16) / 4))
    assert mae(obs, fc) == pytest.approx((1 + 0 + 2 + 4) / 4)
    assert bias(obs, fc) == pytest.approx((1 + 0 - 2 + 4) / 4)


def test_continuous_against_sklearn() -> None:
    rng = np.random.default_rng(3)
    obs = rng.gamma(2, 40, size=500)
    fc = obs + rng.normal(5, 20, size=500)
    assert rmse(obs, fc) == pytest.approx(math.sqrt(mean_squared_error(obs, fc)), rel=1e-12)
    assert mae(obs, fc) == pytest.approx(mean_absolute_error(obs, fc), rel=1e-12)
    assert bias(obs, fc) == pytest.approx(np.mean(fc - obs), rel=1e-12)


def test_nan_pairs_dropped() -> None:
    obs = np.array([1.0, np.nan, 3.0, 4.0, 5.0])
    fc = np.array([2.0, 100.0, np.nan, 8.0, 5.0])  # valid pairs: (1,2), (4,8), (5,5)
    assert rmse(obs, fc) == pytest.approx(math.sqrt((1 + 16 + 0) / 3))
    assert mae(obs, fc) == pytest.approx(5 / 3)
    assert bias(obs, fc) == pytest.approx(5 / 3)
    assert score_block(obs, fc)["n"] == 3
    assert math.isnan(rmse([np.nan], [1.0]))
    assert math.isnan(mae([], []))
    with pytest.raises(ValueError, match="different sizes"):
        rmse([1.0, 2.0], [1.0])


def test_contingency_by_hand() -> None:
    # threshold 150, event = value > 150 (strict):
    # obs events: 160, 200, 300, 151 ; fc events: 170, 160, 260, 155
    # pairs: (10,20) CN, (80,60) CN, (160,170) H, (200,120) M, (40,160) F, (300,260) H,
    #        (151,140) M, (150,155) F  (150 itself is not an event)
    table = contingency(OBS, FC, 150)
    assert table == Contingency(hits=2, misses=2, false_alarms=2, correct_negatives=2)
    assert table.n == 8
    assert csi(table) == pytest.approx(2 / 6)
    assert pod(table) == pytest.approx(2 / 4)
    assert far(table) == pytest.approx(2 / 4)
    t75 = contingency(OBS, FC, 75)
    # obs>75: 80,160,200,300,151,150 ; fc>75: 170,120,160,260,140,155
    assert t75 == Contingency(hits=5, misses=1, false_alarms=1, correct_negatives=1)


def test_scores_undefined_are_nan() -> None:
    quiet = contingency([10, 20, 30], [15, 25, 35], 150)
    assert quiet == Contingency(0, 0, 0, 3)
    assert math.isnan(csi(quiet))
    assert math.isnan(pod(quiet))
    assert math.isnan(far(quiet))
    only_fc = contingency([10, 20], [200, 20], 150)  # one false alarm
    assert csi(only_fc) == 0.0
    assert math.isnan(pod(only_fc))  # nothing observed
    assert far(only_fc) == 1.0
    only_obs = contingency([200, 20], [10, 20], 150)  # one miss
    assert pod(only_obs) == 0.0
    assert math.isnan(far(only_obs))  # nothing forecast


def test_contingency_pooling_adds_tables() -> None:
    a = contingency(OBS[:4], FC[:4], 150)
    b = contingency(OBS[4:], FC[4:], 150)
    assert a + b == contingency(OBS, FC, 150)
    assert isinstance(a + b, Contingency)


def test_aqi_category_accuracy() -> None:
    # HJ 633-2012 PM2.5: ≤35 → I, ≤75 → II, ≤115 → III, ≤150 → IV, ≤250 → V, > 250 → VI
    obs = np.array([20.0, 70.0, 100.0, 140.0, 200.0, 300.0])
    fc = np.array([30.0, 80.0, 110.0, 160.0, 240.0, -5.0])  # same, II→III, same, IV→V, same, VI→I
    assert list(aqi_category_index(obs, "HJ633-2012")) == [0, 1, 2, 3, 4, 5]
    assert aqi_category_accuracy(obs, fc, "HJ633-2012") == pytest.approx(3 / 6)
    # HJ 633-2026 moves the II/III boundary from 75 to 60: 70 is III, 80 is III → now a match
    assert aqi_category_accuracy(obs, fc, "HJ633-2026") == pytest.approx(4 / 6)
    # the boundary belongs to the lower category (AQI 100 → II)
    assert list(aqi_category_index([75.0, 75.1], "HJ633-2012")) == [1, 2]
    assert math.isnan(aqi_category_accuracy([np.nan], [10.0]))


def test_warning_level_hit_rate() -> None:
    obs = ["none", "yellow", "orange", "red", "none", None, "yellow"]
    fc = ["red", "yellow", "yellow", "red", "none", "red", "orange"]
    # observed warning days (missing dropped): yellow✓, orange✗, red✓, yellow✗
    assert warning_level_hit_rate(obs, fc) == pytest.approx(2 / 4)
    # at-least: yellow✓, orange✗ (fc yellow), red✓, yellow✓ (fc orange)
    assert warning_level_hit_rate(obs, fc, exact=False) == pytest.approx(3 / 4)
    assert warning_level_hit_rate([0, 2, 3], [0, 2, 2]) == pytest.approx(1 / 2)
    assert math.isnan(warning_level_hit_rate(["none", "none"], ["red", "none"]))
    with pytest.raises(ValueError, match="unknown warning level"):
        warning_level_hit_rate(["purple"], ["red"])


def test_brier_against_sklearn_and_hand() -> None:
    assert brier_score([0.0, 1.0, 0.5, 0.8], [0, 1, 1, 0]) == pytest.approx(
        (0 + 0 + 0.25 + 0.64) / 4
    )
    rng = np.random.default_rng(7)
    p = rng.uniform(size=400)
    o = (rng.uniform(size=400) < p).astype(int)
    assert brier_score(p, o) == pytest.approx(brier_score_loss(o, p), rel=1e-12)
    assert brier_score([0.2, np.nan, 0.9], [0, 1, np.nan]) == pytest.approx(0.04)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        brier_score([1.2], [1])
    with pytest.raises(ValueError, match="0/1"):
        brier_score([0.5], [2])


def test_reliability_table_bins() -> None:
    p = np.array([0.05, 0.05, 0.15, 0.95, 1.0, 0.5, 0.55, 0.1])
    o = np.array([0, 1, 0, 1, 1, 0, 1, 1])
    tab = reliability_table(p, o, bins=10)
    assert list(tab.columns) == [
        "bin", "lower", "upper", "mean_forecast", "observed_frequency", "count"
    ]  # fmt: skip
    assert len(tab) == 10
    assert tab["count"].sum() == 8
    counts = dict(zip(tab["bin"], tab["count"], strict=True))
    # bin 0 [0, .1): .05, .05 ; bin 1 [.1, .2): .15, .1 (lower edge inclusive) ;
    # bin 5 [.5, .6): .5, .55 ; bin 9 [.9, 1]: .95 and 1.0 (1 goes into the last bin)
    assert counts == {0: 2, 1: 2, 2: 0, 3: 0, 4: 0, 5: 2, 6: 0, 7: 0, 8: 0, 9: 2}
    row0 = tab.iloc[0]
    assert row0["mean_forecast"] == pytest.approx(0.05)
    assert row0["observed_frequency"] == pytest.approx(0.5)
    assert tab.iloc[1]["mean_forecast"] == pytest.approx(0.125)
    assert tab.iloc[9]["observed_frequency"] == pytest.approx(1.0)
    assert math.isnan(tab.iloc[3]["mean_forecast"])
    assert tab.iloc[3]["lower"] == pytest.approx(0.3)
    custom = reliability_table(p, o, bins=[0, 0.5, 1])
    assert list(custom["count"]) == [4, 4]
    with pytest.raises(ValueError, match="from 0 to 1"):
        reliability_table(p, o, bins=[0.1, 1])


def test_score_block_keys_and_values() -> None:
    prob = np.array([0.0, 0.1, 0.9, 0.4, 0.6, 1.0, 0.3, 0.7])
    block = score_block(OBS, FC, prob150=prob)
    assert list(block) == [
        "n", "rmse", "mae", "bias", "csi_75", "csi_115", "csi_150", "csi_250",
        "pod_150", "far_150", "aqi_category_accuracy", "brier_150",
    ]  # fmt: skip
    assert block["n"] == 8
    assert isinstance(block["n"], int)
    assert block["rmse"] == pytest.approx(rmse(OBS, FC))
    assert block["csi_150"] == pytest.approx(2 / 6)
    assert block["csi_75"] == pytest.approx(5 / 7)
    assert block["pod_150"] == pytest.approx(0.5)
    assert block["far_150"] == pytest.approx(0.5)
    outcome = (OBS > 150).astype(int)
    assert block["brier_150"] == pytest.approx(brier_score_loss(outcome, prob))
    assert "brier_150" not in score_block(OBS, FC)
    # CSI at 250: obs>250: 300 ; fc>250: 260 → one hit only
    assert block["csi_250"] == 1.0
    assert block["aqi_category_accuracy"] == pytest.approx(aqi_category_accuracy(OBS, FC))
    assert all(isinstance(v, float) for k, v in block.items() if k != "n")


def test_common_valid_mask() -> None:
    obs = np.array([1.0, np.nan, 3.0, 4.0])
    model = np.array([1.0, 2.0, np.nan, 4.0])
    pers = np.array([np.nan, 2.0, 3.0, 4.0])
    assert list(common_valid(obs, model, pers)) == [False, False, False, True]
