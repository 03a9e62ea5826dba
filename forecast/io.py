"""Files written so that no reader ever sees a half-written one.

Every output of the engine goes through :func:`atomic_write`: the content is written to a
temporary file in the destination's directory, flushed to disk (``fsync``) and renamed over the
destination. A crash leaves the old file or the new one, never a mixture.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

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


def sha256_file(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()
