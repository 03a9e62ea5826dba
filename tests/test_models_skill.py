"""Training and back-testing end to end on the real Wu-Chang-Shi daily data."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from helpers import ROOT, require_shared

from forecast.cli import main
from forecast.config import load_config
from models.backtest import run_backtest
from models.registry import ModelRegistry
from models.training import train_and_register

SKILL = ROOT / "benchmarks" / "skill" / "wuchangshi_daily.yaml"
KEYS = {"n", "rmse", "mae", "bias", "csi_75", "csi_115", "csi_150", "csi_250", "pod_150", "far_150"}


@pytest.fixture(scope="module")
def winter_backtest() -> dict:  # type: ignore[type-arg]
    require_shared("wuchangshi")
    return run_backtest(load_config(SKILL), "2015-10-01", "2016-03-31")


def test_backtest_reports_every_city_lead_and_forecaster(winter_backtest: dict) -> None:  # type: ignore[type-arg]
    result = winter_backtest
    assert result["perfect_prog"] is True and "perfect-prog" in result["note"]
    assert set(result["cities"]) == {"urumqi", "changji", "shihezi", "wujiaqu"}
    for block in result["cities"].values():
        assert set(block["leads"]) == {str(d) for d in range(1, 8)}
        for scores in block["leads"].values():
            for who in ("model", "persistence", "climatology", "linear"):
                assert set(scores[who]) >= KEYS
            assert "brier_150" in scores["model"]
            assert scores["model"]["n"] == scores["persistence"]["n"] == scores["linear"]["n"]
            assert scores["model"]["n"] == scores["climatology"]["n"]
            assert scores["model"]["n"] > 150
            assert 0.0 <= scores["model"]["aqi_category_accuracy"] <= 1.0
            table = scores["model"]["reliability_150"]
            assert [r["lower"] for r in table] == [0.0, 0.1, 0.3, 0.5, 0.7, 0.9]
            assert sum(r["count"] for r in table) == scores["model"]["n"]
            for r in table:
                if r["count"]:
                    assert r["lower"] <= r["mean_forecast"] <= r["upper"]
                    assert 0.0 <= r["observed_frequency"] <= 1.0


def test_model_beats_persistence_and_climatology_beyond_day_one(winter_backtest: dict) -> None:  # type: ignore[type-arg]
    # The 2015-16 skill winter: at lead 3 the model beats both baselines in every city.
    for city, block in winter_backtest["cities"].items():
        s = block["leads"]["3"]
        assert s["model"]["rmse"] < s["persistence"]["rmse"], city
        assert s["model"]["rmse"] < s["climatology"]["rmse"], city
        assert 0 <= s["model"]["brier_150"] < 0.35, city


def test_train_registers_a_loadable_version(tmp_path: Path) -> None:
    require_shared("wuchangshi")
    config = load_config(SKILL).model_copy(deep=True)
    config = config.model_copy(
        update={"data": config.data.model_copy(update={"models_dir": tmp_path / "models"})}
    )
    stamp = datetime(2026, 11, 29, tzinfo=UTC)
    lines = list(train_and_register(config, city="changji", created=stamp))
    assert len(lines) == 1 and lines[0].startswith("changji: v0001 current")
    registry = ModelRegistry(tmp_path / "models")
    card = registry.read_card("changji")
    assert card.target_transform == "persistence"
    assert card.quantiles == (0.1, 0.5, 0.9)
    loaded = registry.load(
        "changji",
        expected_catalogue_version=card.feature_catalogue_version,
        expected_feature_names=list(card.feature_names),
    )
    # Lead bands (1, 3) days by default: one booster set per band.
    assert set(loaded.boosters) == {
        f"band{k}-{m}" for k in range(3) for m in ("mean", "q10", "q50", "q90")
    }
    assert card.params["lead_band_edges_h"] == [24.0, 72.0]
    assert {"correction_window_days", "correction_damping"} <= set(card.params)
    x = np.zeros((1, len(card.feature_names)))
    assert math.isfinite(float(loaded.boosters["band0-mean"].predict(x)[0]))


def test_backtest_command_prints_json(capsys: pytest.CaptureFixture[str]) -> None:
    require_shared("wuchangshi")
    assert (
        main(
            [
                "backtest",
                "--config",
                str(SKILL),
                "--from",
                "2016-01-01",
                "--to",
                "2016-01-20",
                "--json",
            ]
        )
        == 0
    )
    out = json.loads(capsys.readouterr().out)
    assert out["cities"]["urumqi"]["leads"]["1"]["model"]["n"] == 20


def test_pool_of_other_cities_is_chosen_before_the_test_period() -> None:
    import pandas as pd

    from forecast.timeutil import beijing_to_utc
    from models.data import load_pool

    path = require_shared("china", "china_cities_daily_aqistudy.csv.gz")
    days = pd.date_range("2014-01-01", "2016-03-31", freq="D")
    times = beijing_to_utc(days).astype("datetime64[ns]")
    pool = load_pool(path, times, max_cities=5, until=pd.Timestamp("2015-09-30"))
    assert pool.sizes == {"site": 5, "time": len(days)}
    names = list(pool["name"].values)
    assert not set(names) & {"乌鲁木齐", "昌吉州", "石河子", "五家渠"}
    assert all(str(s).startswith("pool:") for s in pool["site"].values)
    assert np.isfinite(pool["lon"]).all() and np.isfinite(pool["lat"]).all()
    # The busiest heavy-day cities of 2014-15 (northern China) have many days > 150 µg/m³.
    assert float((pool["pm25"] > 150).sum()) > 5 * 50
