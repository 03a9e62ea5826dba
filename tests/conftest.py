"""Shared test fixtures: the repository's config, the optional real-data folder and the demo."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from helpers import ROOT, require_shared

from forecast.config import Config, load_config


@pytest.fixture(scope="session")
def config_path() -> Path:
    return ROOT / "config.yaml"


@pytest.fixture(scope="session")
def config(config_path: Path) -> Config:
    return load_config(config_path)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    return require_shared()


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory, config: Config) -> tuple[Path, Any]:
    """One demo run for the session (synthetic winter → training → the 10:00 cycle, ~1 min).

    ``(out, result)``: the demo folder (``synth/``, ``models/``, ``bulletins/``) and its
    :class:`forecast.cycle.CycleResult`. Tests that change inputs work on a copy
    (:func:`helpers.copy_demo`).
    """
    from forecast.demo import run_demo

    out = tmp_path_factory.mktemp("demo")
    result = run_demo(out, config, say=lambda _m: None)
    return out, result
