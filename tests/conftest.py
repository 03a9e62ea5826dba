"""Shared test fixtures: the repository's config and the optional real-data folder."""

from __future__ import annotations

from pathlib import Path

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
