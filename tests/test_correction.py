"""The recent-error correction and lead-band models, against slow obvious references."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import ROOT
from pydantic import ValidationError

from forecast.config import Config, load_config
from models.correction import (
    Correction,
    apply_offsets,
    correct,
    day_ahead_errors,
    recent_offsets,
    tune_correction,
)
from models.forecaster import lead_band_index, train_city
from models.registry import ModelCard, ModelRegistry, TrainingWindow


def _panel(seed: int = 3, days: int = 40, bias: float = 0.0) -> pd.DataFrame:
    """Daily forecast table of two cities with gaps: leads 1–3, obs missing on some days."""
    rng = np.random.default_rng(seed)
    rows = []
    for site, n in (("a", days), ("b", days - 9)):
        start = pd.Timestamp("2015-12-01") + pd.Timedelta(days=3 if site == "b" else 0)
        for i in range(n):
            issue = start + pd.Timedelta(days=i)
            if site == "b" and i in (5, 6, 7):
                continue  # missed issues
            for lead in (1, 2, 3):
                target = issue + pd.Timedelta(days=lead)
                truth = 100 + 40 * np.sin(i / 4)
                obs = np.nan if (i % 11 == 4) else truth + rng.normal(0, 5)
                rows.append((site, issue, lead, target, truth - bias + rng.normal(0, 5), obs))
    frame = pd.DataFrame(
        rows, columns=["site", "issue_day", "lead_day", "target_day", "mean", "obs"]
    )
    frame["q10"] = frame["mean"] - 20
    frame["q90"] = frame["mean"] + 20
    return frame


def _reference_offset(
    frame: pd.DataFrame, site: str, issue: pd.Timestamp, c: Correction, lag: int
) -> float:
    """Slow: loop over the calendar days of the window and average the known day-1 errors."""
    first = frame[(frame["site"] == site) & (frame["lead_day"] == 1)]
    errors = dict(zip(first["target_day"], first["obs"] - first["mean"], strict=True))
    last = issue - pd.Timedelta(days=lag)
    window = [last - pd.Timedelta(days=k) for k in range(c.window_days)]
    known = [errors[d] for d in window if d in errors and np.isfinite(errors[d])]
    return c.damping * float(np.mean(known)) if len(known) >= c.min_errors else 0.0


@pytest.mark.parametrize("lag", [0, 1])
@pytest.mark.parametrize("window,damping", [(3, 1.0), (7, 0.5), (14, 0.25)])
def test_offsets_match_a_slow_reference(lag: int, window: int, damping: float) -> None:
    frame = _panel()
    c = Correction(window_days=window, damping=damping)
    got = recent_offsets(
        day_ahead_errors(frame),
        frame["site"].to_numpy(),
        pd.DatetimeIndex(frame["issue_day"]),
        c,
        verified_lag_days=lag,
    )
    want = [
        _reference_offset(frame, s, d, c, lag)
        for s, d in zip(frame["site"], frame["issue_day"], strict=True)
    ]
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    assert np.count_nonzero(got) > len(got) // 2  # the reference is not trivially zero


def test_offsets_never_see_unverified_days() -> None:
    frame = _panel()
    c = Correction(window_days=5, damping=1.0)
    issue = pd.Timestamp("2015-12-20")
    before = correct(frame, c, ["mean"], verified_lag_days=1)
    # A wild error on the issue day itself (not complete at an hourly issue) and later days.
    later = frame.copy()
    hit = (later["lead_day"] == 1) & (later["target_day"] >= issue)
    later.loc[hit, "obs"] = 5000.0
    after = correct(later, c, ["mean"], verified_lag_days=1)
    same = (before["issue_day"] <= issue).to_numpy()
    np.testing.assert_array_equal(before["mean"].to_numpy()[same], after["mean"].to_numpy()[same])
    assert not np.array_equal(before["mean"].to_numpy(), after["mean"].to_numpy())


def test_off_correction_changes_nothing_and_offsets_clip_at_zero() -> None:
    frame = _panel()
    off = correct(frame, Correction(damping=0.0), ["mean", "q10"], verified_lag_days=0)
    pd.testing.assert_frame_equal(off, frame)
    shifted = apply_offsets(frame, np.full(len(frame), -1000.0), ["mean", "q10", "q90"])
    assert (shifted[["mean", "q10", "q90"]].to_numpy() == 0.0).all()
    up = apply_offsets(frame, np.full(len(frame), 7.0), ["q10", "q90"])
    assert (up["q10"] <= up["q90"]).all()
    np.testing.assert_allclose(up["q90"] - frame["q90"], 7.0)


def test_tuning_switches_on_for_a_persistent_bias_and_off_for_noise() -> None:
    biased = _panel(days=120, bias=30.0)
    tuned = tune_correction(biased, verified_lag_days=0)
    assert tuned.active and tuned.damping >= 0.75
    corrected = correct(biased, tuned, ["mean"], verified_lag_days=0)
    rmse = lambda f: float(np.sqrt(np.nanmean((f["mean"] - f["obs"]) ** 2)))  # noqa: E731
    assert rmse(corrected) < 0.6 * rmse(biased)
    assert not tune_correction(_panel(days=120, bias=0.0), verified_lag_days=0).active
    assert not tune_correction(_panel(days=10, bias=30.0), verified_lag_days=0).active


# --- lead bands ------------------------------------------------------------------------------


def test_lead_band_index_edges_are_inclusive() -> None:
    got = lead_band_index(np.array([1.0, 24.0, 25.0, 72.0, 73.0, 168.0]), (24.0, 72.0))
    np.testing.assert_array_equal(got, [0, 0, 1, 1, 2, 2])


def test_lead_bands_must_increase() -> None:
    config = load_config(ROOT / "config.yaml")
    with pytest.raises(ValidationError, match="lead_bands_days must be strictly increasing"):
        config.model.model_validate({**config.model.model_dump(), "lead_bands_days": (3, 1)})


def _banded(config: Config, bands: tuple[int, ...] | None) -> Config:
    model = config.model.model_copy(update={"lead_bands_days": bands, "num_boost_round": 20})
    return config.model_copy(update={"model": model})


def _rows(n_issues: int = 300) -> tuple[np.ndarray, np.ndarray, list[str]]:
    rng = np.random.default_rng(11)
    names = ["pm25_lag_0h", "wind", "lead_h"]
    lag0 = rng.gamma(2.0, 40.0, n_issues)
    wind = rng.normal(3, 1, n_issues)
    rows, ys = [], []
    for lead in (24.0, 48.0, 72.0, 96.0, 168.0):
        # The change depends on the lead with opposite signs in the two bands.
        change = (-20.0 if lead <= 24 else 25.0) * (wind - 3)
        rows.append(np.column_stack([lag0, wind, np.full(n_issues, lead)]))
        ys.append(np.clip(lag0 + change + rng.normal(0, 2, n_issues), 0, None))
    return np.vstack(rows).astype(np.float32), np.concatenate(ys), names


def test_banded_model_routes_rows_to_their_band(tmp_path: Path) -> None:
    X, y, names = _rows()
    config = _banded(load_config(ROOT / "config.yaml"), (1, 3))
    model = train_city("urumqi", X, y, names, config)
    assert model.band_edges_h == (24.0, 72.0)
    assert {f"band{k}-{m}" for k in range(3) for m in ("mean", "q10", "q50", "q90")} == set(
        model.boosters
    )
    pred = model.predict(X)
    band = lead_band_index(X[:, 2].astype(np.float64), model.band_edges_h)
    for k in range(3):
        rows = band == k
        raw = model.boosters[f"band{k}-mean"].predict(X[rows])
        np.testing.assert_allclose(pred["mean"][rows], np.clip(X[rows, 0] + raw, 0, None))
    # Separate bands learn opposite responses to the wind; one set must average them.
    err = lambda p: float(np.sqrt(np.mean((p["mean"] - y) ** 2)))  # noqa: E731
    single = train_city("urumqi", X, y, names, _banded(config, None))
    assert err(pred) < err(single.predict(X))
    # Band members are valid registry names and survive a save/load round trip.
    registry = ModelRegistry(tmp_path)
    card = ModelCard(
        city="urumqi",
        created=pd.Timestamp("2026-11-29T00:00Z").to_pydatetime(),
        kind="quantile-set",
        feature_catalogue_version="test",
        feature_names=tuple(names),
        params={"lead_band_edges_h": list(model.band_edges_h)},
        training_window=TrainingWindow(
            start=pd.Timestamp("2015-01-01T00:00Z").to_pydatetime(),
            end=pd.Timestamp("2015-03-01T00:00Z").to_pydatetime(),
        ),
        training_data_sha256="0" * 64,
        n_training_samples=len(y),
        code_version="test",
        target_transform="persistence",
        quantiles=(0.1, 0.5, 0.9),
    )
    version = registry.save("urumqi", model.boosters, card)
    loaded = registry.load(
        "urumqi", version, expected_catalogue_version="test", expected_feature_names=names
    )
    assert set(loaded.boosters) == set(model.boosters)


def test_a_band_without_rows_is_refused() -> None:
    X, y, names = _rows()
    config = _banded(load_config(ROOT / "config.yaml"), (7, 8))
    with pytest.raises(ValueError, match=r"lead band 1 .* has only 0 training rows"):
        train_city("urumqi", X, y, names, config)


def test_operational_offset_agrees_with_the_backtest_table(tmp_path: Path) -> None:
    """The cycle's offset (recomputed from history for one issue) equals the offset the
    back-test derives from its table of every issue's forecasts."""
    from forecast.hindcast import embedded_config
    from forecast.timeutil import beijing_to_utc
    from models.backtest import correct_daily, observed_daily, offset_at_issue, to_daily
    from models.data import load_training_dataset
    from models.forecaster import build, issue_times, setup_for

    config = embedded_config(tmp_path)
    config = config.model_copy(
        update={"model": config.model.model_copy(update={"num_boost_round": 30})}
    )
    ds = load_training_dataset(config).sel(time=slice("2014-01-01", "2016-01-31"))
    setup = setup_for(ds, config)
    issues = issue_times(ds, setup)
    train = issues[issues < pd.Timestamp("2015-09-01")]
    X, _, names, y = build(ds, setup, train, setup.train_leads_h)
    model = train_city("pooled", X, y, names, config)
    window = issues[(issues >= pd.Timestamp("2015-12-01")) & (issues < pd.Timestamp("2016-01-20"))]
    Xw, iw, _, _ = build(ds, setup, window, setup.leads_h)
    daily = to_daily(iw, model.predict(Xw), setup, observed_daily(ds, setup))
    c = Correction(window_days=7, damping=0.5)
    corrected = correct_daily(daily, c, setup, model.quantiles)
    table_offset = (corrected["mean"] - daily["mean"]).to_numpy()
    for day in ("2016-01-05", "2016-01-12", "2016-01-19"):
        issue = beijing_to_utc(pd.DatetimeIndex([pd.Timestamp(day)]))[0]
        for site in ("urumqi", "wujiaqu"):
            mine = (daily["site"] == site) & (daily["issue_day"] == pd.Timestamp(day))
            rows = mine.to_numpy() & (daily["mean"].to_numpy() > 10)
            got = offset_at_issue(model, c, ds, setup, issue, site)
            assert got != 0.0
            np.testing.assert_allclose(table_offset[rows], got, rtol=1e-9, atol=1e-9)


def test_the_cycle_applies_a_tuned_correction(
    demo: tuple[Path, object], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A model whose card switches the correction on: the cycle shifts every quantile of every
    day by the offset recomputed from the model's day-ahead errors, and says so."""
    import json

    from helpers import copy_demo

    from forecast.cycle import run_cycle
    from forecast.demo import issue_day

    out, _ = demo
    day = issue_day(json.loads((out / "synth" / "manifest.json").read_text(encoding="utf-8")))
    issue, now = f"{day:%Y-%m-%d}T10:00", f"{day:%Y-%m-%d}T14:00"
    plain_config, _ = copy_demo(out, tmp_path / "plain")
    plain = run_cycle(plain_config, issue, now=now, dry_run=True)
    on = Correction(window_days=5, damping=1.0)
    monkeypatch.setattr(Correction, "from_params", classmethod(lambda cls, params: on))
    fixed_config, _ = copy_demo(out, tmp_path / "fixed")
    fixed = run_cycle(fixed_config, issue, now=now, dry_run=True)
    assert plain.bulletin is not None and fixed.bulletin is not None
    note = next(s.note for s in fixed.steps if s.name == "predict")
    assert "recent-error correction" in note
    assert "recent-error correction" not in next(s.note for s in plain.steps if s.name == "predict")
    import re

    offsets = {c: float(v) for c, v in re.findall(r"(\w+) ([+-]\d+\.\d) µg/m³", note)}
    assert set(offsets) == {c.city_id for c in plain.bulletin.cities}
    # The bulletin says so (an "ok" input status, not a degradation).
    status = {s.component: s for s in fixed.bulletin.input_status}
    assert "correction" not in {s.component for s in plain.bulletin.input_status}
    assert status["correction"].status == "ok"
    assert "last 5 verified days × 1" in (status["correction"].reason or "")
    assert fixed.status == plain.status
    for a, b in zip(plain.bulletin.cities, fixed.bulletin.cities, strict=True):
        shifts = [
            db.pm25_p50 - da.pm25_p50
            # Day 0 mixes observed hours (never shifted) with forecast hours.
            for da, db in zip(a.daily[1:], b.daily[1:], strict=True)
            if da.pm25_p10 > 60  # no hour clipped at 0 by a negative offset
        ]
        assert shifts, a.city_id
        np.testing.assert_allclose(shifts, offsets[a.city_id], atol=0.25)
