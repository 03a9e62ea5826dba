"""Paths shared by the tests: the repository and the optional real-data folder beside it."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"


def require_shared(*parts: str) -> Path:
    """``../shared/data/<parts>``, or skip the test with the reason when it is absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real data {path} not found (../shared/data sits beside the repository)")
    return path


def copy_demo(demo_out: Path, dest: Path, *, archived: Sequence[Path] = ()) -> tuple[Any, Path]:
    """Copy a demo's inputs and models to ``dest``; its config and a YAML file of it.

    ``archived``: bulletin files of the demo's archive to copy into the copy's archive (same
    place under the archive root). The config file is a complete dump (absolute paths into
    ``dest``), usable as ``--config`` of the command line.
    """
    import shutil

    import yaml

    from forecast.config import load_config
    from forecast.demo import demo_config

    shutil.copytree(demo_out / "synth", dest / "synth", symlinks=True)
    shutil.copytree(demo_out / "models", dest / "models")
    for path in archived:
        relative = Path(path).relative_to(demo_out / "bulletins" / "archive")
        target = dest / "bulletins" / "archive" / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
    config = demo_config(dest)
    config = config.model_copy(
        update={
            "schedule": config.schedule.model_copy(
                update={"job_store": dest / "state" / "scheduler.sqlite"}
            )
        }
    )
    path = dest / "cycle.yaml"
    dumped = config.model_dump(mode="json", exclude={"source"})
    path.write_text(yaml.safe_dump(dumped, allow_unicode=True), encoding="utf-8")
    return load_config(path), path
