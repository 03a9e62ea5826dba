"""Shared test fixtures: the repository's config and the optional real-data folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from forecast.config import Config, load_config

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def config_path() -> Path:
    return ROOT / "config.yaml"


@pytest.fixture(scope="session")
def config(config_path: Path) -> Config:
    return load_config(config_path)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data folder {SHARED_DATA} not found (it sits beside the repository)")
    return SHARED_DATA
