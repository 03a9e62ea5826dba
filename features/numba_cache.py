"""Where Numba keeps compiled feature kernels (``cache=True``), and how long compiling takes.

The kernels in :mod:`features.kernels` are compiled on first use and written to an on-disk
cache, so later processes (every training job and forecast cycle) load machine code instead of
compiling for tens of seconds. The cache directory is chosen, in order, from:

1. the ``directory`` passed to :func:`configure_cache` (before the first kernel call);
2. the environment variable ``WCS_NUMBA_CACHE_DIR``;
3. the environment variable ``NUMBA_CACHE_DIR`` (Numba's own setting);
4. ``$XDG_CACHE_HOME/wcs-forecast/numba`` (default ``~/.cache/wcs-forecast/numba``).

A directory that cannot be created or written falls back to a per-user folder in the system's
temporary directory (never the package directory, which may be read-only in a deployment).
:func:`features.build.warmup` measures the first call of the kernels (compile or cache load).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numba

_ENV = "WCS_NUMBA_CACHE_DIR"


def _writable(path: Path) -> bool:
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".probe-"):
            pass
    except OSError:
        return False
    return True


def default_cache_dir() -> Path:
    """The cache directory from the environment, else the user cache folder (not created)."""
    for env in (_ENV, "NUMBA_CACHE_DIR"):
        value = os.environ.get(env)
        if value:
            return Path(value).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "wcs-forecast" / "numba"


def resolve_cache_dir(directory: str | os.PathLike[str] | None = None) -> Path:
    """A writable cache directory: ``directory`` or the default, else a temporary folder."""
    wanted = Path(directory).expanduser() if directory is not None else default_cache_dir()
    if _writable(wanted):
        return wanted.resolve()
    fallback = Path(tempfile.gettempdir()) / f"wcs-forecast-numba-{os.getuid()}"
    if not _writable(fallback):
        raise OSError(f"no writable Numba cache directory ({wanted}, {fallback})")
    return fallback.resolve()


def _apply(path: Path) -> None:
    # Numba reads config.CACHE_DIR when a dispatcher enables caching (at decoration), so this
    # runs before features.kernels defines its kernels; configure_cache re-enables them later.
    numba.config.CACHE_DIR = str(path)  # type: ignore[attr-defined]
    os.environ.setdefault("NUMBA_CACHE_DIR", str(path))


CACHE_DIR: Path = resolve_cache_dir()
_apply(CACHE_DIR)


def configure_cache(directory: str | os.PathLike[str] | None = None) -> Path:
    """Use ``directory`` (or the default) for the kernel cache from now on; returns it.

    Call it before the first kernel call of the process: kernels already compiled in memory
    are not written again.
    """
    global CACHE_DIR  # noqa: PLW0603 - the module-level setting is the point
    CACHE_DIR = resolve_cache_dir(directory)
    _apply(CACHE_DIR)
    from features import kernels

    for kernel in kernels.KERNELS:
        kernel.enable_caching()
    return CACHE_DIR
