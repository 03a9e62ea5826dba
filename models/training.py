"""Train on every available row and register a new model version per city.

The model is the back-tested design of :mod:`models.forecaster` (pooled over the cities of the
training data unless ``model.pooled`` is false); the heavy-day probability threshold is tuned on
the last year of the data by an inner split with a horizon-long gap. Every city gets the same
boosters in its own registry entry (LightGBM text + JSON card), marked current.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import numpy as np
import pandas as pd

from features.catalogue import catalogue_version
from forecast.config import Config
from models.backtest import observed_daily, tune_decisions
from models.data import load_training_dataset
from models.forecaster import DEFAULT_PARAMS, build, issue_times, setup_for, train_city
from models.registry import (
    ModelCard,
    ModelRegistry,
    TrainingWindow,
    code_version,
    hash_training_data,
)


def train_and_register(
    config: Config,
    *,
    city: str | None = None,
    progress: Callable[[str], None] | None = None,
    created: datetime | None = None,
) -> Iterator[str]:
    """Train, register and mark current; yields one report line per city (with timings)."""
    say = progress or (lambda _m: None)
    ds = load_training_dataset(config)
    setup = setup_for(ds, config)
    sites = [str(s) for s in ds["site"].values]
    if city is not None and city not in sites:
        raise ValueError(f"city {city!r} is not in the training data; valid: {sites}")
    groups = [sites] if config.model.pooled else [[s] for s in sites]
    registry = ModelRegistry(config.data.models_dir)
    obs = observed_daily(ds, setup)
    gap = pd.Timedelta(days=setup.horizon_days)
    stamp = created or datetime.now(tz=UTC).replace(microsecond=0)
    for group in groups:
        if city is not None and city not in group:
            continue
        t0 = time.perf_counter()
        part = ds.sel(site=group)
        issues = issue_times(part, setup)
        X, index, names, y = build(part, setup, issues, setup.train_leads_h)
        last = pd.DatetimeIndex(index["valid_time"])[np.isfinite(y)].max()
        val_start = last - pd.Timedelta(days=365)
        label = "+".join(group)
        decisions = tune_decisions(
            config, setup, X, index, y, names, obs, gap, val_start, say, label
        )
        threshold = decisions.heavy_prob_threshold
        say(f"{label}: training on {int(np.isfinite(y).sum())} rows")
        model = train_city(label, X, y, names, config)
        seconds = time.perf_counter() - t0
        ok = np.isfinite(y)
        window = TrainingWindow(
            start=pd.Timestamp(index["valid_time"][ok].min()).to_pydatetime(),
            end=pd.Timestamp(index["valid_time"][ok].max()).to_pydatetime(),
        )
        for site in group:
            if city is not None and site != city:
                continue
            card = ModelCard(
                city=site,
                created=stamp,
                kind="quantile-set",
                feature_catalogue_version=catalogue_version(),
                feature_names=tuple(names),
                params={
                    **DEFAULT_PARAMS,
                    **config.model.params,
                    "num_boost_round": config.model.num_boost_round,
                    "heavy_weight": config.model.heavy_weight,
                    "mean_objective": config.model.mean_objective,
                    "huber_delta": config.model.huber_delta,
                    "heavy_prob_threshold": threshold,
                    "correction_window_days": decisions.correction.window_days,
                    "correction_damping": decisions.correction.damping,
                    "lead_band_edges_h": list(model.band_edges_h),
                    "pooled_over": group,
                    "leads_h": list(setup.leads_h),
                    "step_hours": setup.step_hours,
                    "issue_hour_beijing": setup.issue_hour_beijing,
                },
                training_window=window,
                training_data_sha256=hash_training_data(X[ok], y[ok]),
                n_training_samples=int(ok.sum()),
                code_version=code_version(),
                target_transform=model.transform,
                quantiles=model.quantiles,
            )
            version = registry.save(site, model.boosters, card)
            registry.set_current(site, version)
            yield (
                f"{site}: {version} current ({int(ok.sum())} rows, {seconds:.1f} s, "
                f"{ok.sum() / max(seconds, 1e-9):,.0f} rows/s; heavy threshold "
                f"P(>150) ≥ {threshold:.3f}) → {registry.version_dir(site, version)}"
            )
