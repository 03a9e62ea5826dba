"""Files written so that no reader ever sees a half-written one.

Every output of the engine goes through :func:`atomic_write`: the content is written to a
temporary file in the destination's directory, flushed to disk (``fsync``) and renamed over the
destination. A crash leaves the old file or the new one, never a mixture.
"""

from __future__ import annotations

import hashlib
import os
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
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
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
