"""Benchmark: training the four cities' models on synthetic winters of hourly data, all leads.

Generates ``--winters`` autumn–winters (1 Oct – 31 Mar) of the synthetic Wu-Chang-Shi region
(21 stations, 0.5° grids, observations as netCDF), merges them into city hourly data, and times,
in one run: building the training features (every third lead hour to the end of day D+7), and
training the pooled point and quantile boosters. Reports the time per city (pooled time / 4) and
the training rows per second. Usage::

    python benchmarks/bench_training.py [--winters 3] [--rounds 400] [--json]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import cpu_model, emit

from forecast.config import ObservationSource, TrainingConfig, WeatherSource, load_config
from forecast.synth import generate
from models.data import load_training_dataset
from models.forecaster import build, issue_times, setup_for, train_city


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--winters", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=400)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        obs, met = [], []
        for w in range(args.winters):
            out = Path(tmp) / f"w{w}"
            generate(out, seed=w, start=f"{2019 + w}-10-01", obs_format="netcdf", faults=False)
            obs += sorted((out / "obs").glob("*.nc"))
            met += sorted((out / "analysis").glob("*.nc"))
        synth_s = time.perf_counter() - t0
        config = load_config(Path(tmp) / "w0" / "config.yaml")
        training = TrainingConfig(
            observations=(ObservationSource(format="obs-netcdf", paths=tuple(obs)),),
            weather=(WeatherSource(kind="grid", paths=tuple(met)),),
        )
        config = config.model_copy(
            update={
                "training": training,
                "model": config.model.model_copy(update={"num_boost_round": args.rounds}),
            }
        )
        t0 = time.perf_counter()
        ds = load_training_dataset(config)
        load_s = time.perf_counter() - t0
        setup = setup_for(ds, config)
        t0 = time.perf_counter()
        X, _index, names, y = build(ds, setup, issue_times(ds, setup), setup.train_leads_h)
        features_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        model = train_city("pooled", X, y, names, config)
        train_s = time.perf_counter() - t0
    rows = int(np.isfinite(y).sum())
    n_cities = int(ds.sizes["site"])
    emit(
        {
            "winters": args.winters,
            "cities": n_cities,
            "rows": rows,
            "features": len(names),
            # point + quantile boosters, per lead band (model.lead_bands_days)
            "boosters": len(model.boosters),
            "lead_bands_days": list(config.model.lead_bands_days or []),
            "rounds": args.rounds,
            "synth_s": round(synth_s, 1),
            "load_merge_s": round(load_s, 1),
            "features_s": round(features_s, 2),
            "train_s": round(train_s, 1),
            "train_s_per_city": round(train_s / n_cities, 1),
            "rows_per_s": round(rows / train_s),
            "cpu": cpu_model(),
        },
        args.json,
    )


if __name__ == "__main__":
    main()
