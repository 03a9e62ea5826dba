"""Atomic writes and the clean-up of what killed writers leave behind."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from forecast.io import atomic_write, remove_orphaned_temporaries, write_bytes_atomic


def test_atomic_write_replaces_or_leaves_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "a" / "out.json"
    write_bytes_atomic(target, b"old")
    with pytest.raises(RuntimeError), atomic_write(target) as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("crash before the rename")
    assert target.read_bytes() == b"old"
    assert list(target.parent.iterdir()) == [target]


def test_orphans_of_dead_writers_are_removed_and_live_ones_kept(tmp_path: Path) -> None:
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    dead_pid = int(dead.stdout)
    orphan = tmp_path / "x" / f".b.json.{dead_pid}.abc123.tmp"
    live = tmp_path / f".c.json.{os.getpid()}.def456.tmp"
    unrelated = tmp_path / ".notes.tmp"
    for p in (orphan, live, unrelated):
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"partial")
    assert remove_orphaned_temporaries(tmp_path) == [orphan]
    assert not orphan.exists() and live.exists() and unrelated.exists()
    assert remove_orphaned_temporaries(tmp_path / "missing") == []


def test_strict_json_has_no_nan_and_plain_numbers(tmp_path: Path) -> None:
    import json

    import numpy as np

    from forecast.io import strict_json, write_json_atomic

    obj = {"a": np.float64("nan"), "b": [np.int64(3), 1.234567, float("inf")], "c": "NaN city"}
    text = strict_json(obj, digits=2)
    assert json.loads(text) == {"a": None, "b": [3, 1.23, None], "c": "NaN city"}
    path = write_json_atomic(tmp_path / "s.json", obj)
    assert json.loads(path.read_text(encoding="utf-8"))["b"][1] == 1.234567
