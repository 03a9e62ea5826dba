"""Files written so that no reader ever sees a half-written one.

Every output of the engine goes through :func:`atomic_write`: the content is written to a
temporary file in the destination's directory, flushed to disk (``fsync``) and renamed over the
destination. A crash leaves the old file or the new one, never a mixture.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr


@contextmanager
def atomic_write(path: str | Path, *, fsync: bool = True) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path``, else vanishes."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # The writer's pid in the name lets a later run remove what a killed writer left behind.
    fd, name = tempfile.mkstemp(
        prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp", dir=path.parent
    )
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        if fsync:
            with tmp.open("rb+") as fh:
                os.fsync(fh.fileno())
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


_TEMPORARY = re.compile(r"^\..+\.(\d+)\.[^.]+\.tmp$")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_orphaned_temporaries(root: str | Path) -> list[Path]:
    """Delete temporary files under ``root`` whose writer process no longer exists.

    A writer killed between writing and renaming (SIGKILL, power loss) leaves its hidden
    temporary file; nothing ever reads it. Files of running writers are left alone.
    """
    removed: list[Path] = []
    root = Path(root)
    if not root.is_dir():
        return removed
    for path in root.rglob(".*.tmp"):
        match = _TEMPORARY.match(path.name)
        if match and not _alive(int(match[1])):
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def write_bytes_atomic(path: str | Path, data: bytes, *, fsync: bool = True) -> Path:
    with atomic_write(path, fsync=fsync) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_netcdf_atomic(
    ds: xr.Dataset, path: str | Path, encoding: Mapping[str, Mapping[str, object]] | None = None
) -> Path:
    """Write ``ds`` as netCDF-4 through :func:`atomic_write`."""
    with atomic_write(path) as tmp:
        ds.to_netcdf(tmp, engine="netcdf4", format="NETCDF4", encoding=dict(encoding or {}))
    return Path(path)


def json_ready(obj: Any, *, digits: int | None = None) -> Any:
    """Plain JSON values: numpy scalars → Python, NaN/inf → null, floats rounded to ``digits``."""
    if isinstance(obj, np.integer | bool | np.bool_):
        return obj.item() if isinstance(obj, np.generic) else obj
    if isinstance(obj, float | np.floating):
        value = float(obj)
        if not math.isfinite(value):
            return None
        return round(value, digits) if digits is not None else value
    if isinstance(obj, dict):
        return {str(k): json_ready(v, digits=digits) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [json_ready(v, digits=digits) for v in obj]
    return obj


def strict_json(obj: Any, *, digits: int | None = None) -> str:
    """Standard JSON text (never ``NaN``), UTF-8 characters kept, one value per line."""
    return (
        json.dumps(json_ready(obj, digits=digits), ensure_ascii=False, indent=1, allow_nan=False)
        + "\n"
    )


def write_json_atomic(path: str | Path, obj: Any, *, digits: int | None = None) -> Path:
    """Write :func:`strict_json` of ``obj`` through :func:`atomic_write`."""
    return write_bytes_atomic(path, strict_json(obj, digits=digits).encode("utf-8"))


def sha256_file(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()
