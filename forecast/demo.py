"""End-to-end demo: synthetic season → training → one forecast cycle → bulletin.

``run_demo(out_dir)`` generates ``out/synth`` (:func:`forecast.synth.generate`), trains and
registers the pooled models on it (``out/models``), then runs :func:`forecast.cycle.run_cycle` at
10:00 Beijing time the day before the strongest episode's peak (``out/bulletins``). The
generator's cycle days are extended by the day before the issue day so that a fallback cycle
exists. The NWP availability is judged as of 14:00 Beijing time (the 00 UTC cycle of the issue
day is nominally available at 13:00 Beijing time): a re-run of the 10:00 bulletin.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pandas as pd

from forecast.config import Config, ObservationSource, WeatherSource, load_config
from forecast.cycle import CycleResult, run_cycle

DEMO_DAYS = 60
DEMO_ROUNDS = 100


def demo_config(out: Path) -> Config:
    synth = out / "synth"
    config = load_config(synth / "config.yaml")
    training = config.training.model_copy(
        update={
            "observations": (ObservationSource(format="cnemc-hourly", paths=(synth / "obs",)),),
            "weather": (
                WeatherSource(
                    kind="grid",
                    paths=tuple(sorted((synth / "analysis").glob("*.nc"))),
                    observed=True,
                ),
            ),
            "pool": None,
        }
    )
    return config.model_copy(
        update={
            "training": training,
            "data": config.data.model_copy(
                update={"models_dir": out / "models", "bulletins_dir": out / "bulletins"}
            ),
            "model": config.model.model_copy(update={"num_boost_round": DEMO_ROUNDS}),
        }
    )


def issue_day(manifest: dict[str, Any]) -> pd.Timestamp:
    peak = pd.Timestamp(manifest["episodes"]["strongest"]["peak_date"])
    return peak - pd.Timedelta(days=1)


def run_demo(
    out_dir: str | Path, base: Config, *, days: int = DEMO_DAYS, say: Any = print
) -> CycleResult:
    from forecast.synth import generate
    from models.training import train_and_register

    out = Path(out_dir).resolve()
    t0 = time.perf_counter()
    synth = out / "synth"
    if (synth / "manifest.json").is_file():
        manifest = json.loads((synth / "manifest.json").read_text())
        say(f"[synth] reusing {synth}")
    else:
        # The episode days are a function of the weather: generate once with the default
        # cycle days, then again with the day before the issue day added (the fallback).
        manifest = generate(synth, seed=0, start="2021-11-01", days=days, config=base)
        day = issue_day(manifest)
        defaults = [
            pd.Timestamp(c["init_utc"]).tz_localize(None).normalize() for c in manifest["cycles"]
        ]
        wanted = sorted({*defaults, day - pd.Timedelta(days=1)})
        manifest = generate(
            synth,
            seed=0,
            start="2021-11-01",
            days=days,
            config=base,
            cycle_days=[f"{d:%Y-%m-%d}" for d in wanted],
            overwrite=True,
        )
    t1 = time.perf_counter()
    say(f"[synth] {t1 - t0:.1f} s → {synth}")
    config = demo_config(out)
    for line in train_and_register(
        config, created=pd.Timestamp("2022-03-01", tz="UTC").to_pydatetime()
    ):
        say(f"[train] {line}")
    t2 = time.perf_counter()
    say(f"[train] {t2 - t1:.1f} s")
    day = issue_day(manifest)
    issue = pd.Timestamp(f"{day:%Y-%m-%d} 10:00")
    result = run_cycle(config, issue, now=pd.Timestamp(f"{day:%Y-%m-%d} 14:00"), progress=say)
    say(result.summary())
    say(f"total {time.perf_counter() - t0:.1f} s")
    if result.out_dir is not None and result.bulletin is not None:
        bid = result.bulletin.id
        say(f"HTML: {result.out_dir / (bid + '.html')}")
        say(f"JSON: {result.archived}")
        say("CAP:  " + ", ".join(str(p) for p in result.paths if p.name.endswith(".cap.xml")))
    return result


def cmd_demo(args: Any) -> int:
    from forecast.cli import config_from_args

    base = config_from_args(args)  # the region's stations and settings for the synthetic network
    result = run_demo(args.out, base, days=args.days)
    return result.status
