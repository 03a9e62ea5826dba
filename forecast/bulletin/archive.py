"""The bulletin archive: ``root/YYYY/MM/<id>.json`` (Beijing issue month), never overwritten.

- :func:`archive` writes the canonical JSON atomically (temporary file, fsync, rename).
  Archiving content identical to the latest stored revision of the same id is a no-op (same
  path, file untouched). Different content for an existing id becomes a new revision,
  ``<id>.r2.json``, ``<id>.r3.json`` …, and the stored bulletin's ``revision`` field says so.
- :func:`latest` and :func:`previous_bulletin` find bulletins for the warning lifecycle
  (latest revision of each id; by issue time, then cycle).

Concurrent writers in one archive are serialised with an advisory lock on the root folder
(POSIX ``flock``), so two processes never claim the same revision.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from forecast.bulletin.json_io import canonical_json, dumps, load_bulletin
from forecast.bulletin.model import BEIJING_TZ, Bulletin, safe_name, to_beijing
from forecast.io import write_bytes_atomic

_NAME = re.compile(
    r"^(?P<id>wcs-(?P<region>[A-Za-z0-9._-]+)-(?P<issue>[0-9]{8}T[0-9]{4})-(?P<cycle>[0-9]{10}))"
    r"(?:\.r(?P<rev>[0-9]+))?\.json$"
)


@dataclass(frozen=True)
class ArchiveEntry:
    """One archived file, described by its name (the file is not read)."""

    path: Path
    id: str
    region: str
    issue_time: datetime  # Beijing time
    cycle: datetime  # UTC
    revision: int


def file_name(bulletin_id: str, revision: int = 1) -> str:
    """``<id>.json`` for revision 1, ``<id>.r<n>.json`` after; checked to be a safe name."""
    safe_name(bulletin_id, "bulletin id")
    if revision < 1:
        raise ValueError(f"revision must be ≥ 1, got {revision}")
    return f"{bulletin_id}.json" if revision == 1 else f"{bulletin_id}.r{revision}.json"


def archive_path(bulletin: Bulletin, root: str | Path, revision: int | None = None) -> Path:
    """Where revision ``revision`` (default: the bulletin's) of the bulletin is archived."""
    t = bulletin.issue_time
    name = file_name(bulletin.id, bulletin.revision if revision is None else revision)
    return Path(root) / f"{t:%Y}" / f"{t:%m}" / name


def parse_name(path: Path) -> ArchiveEntry | None:
    m = _NAME.match(path.name)
    if m is None:
        return None
    issue = datetime.strptime(m["issue"], "%Y%m%dT%H%M").replace(tzinfo=BEIJING_TZ)
    cycle = datetime.strptime(m["cycle"], "%Y%m%d%H").replace(tzinfo=timezone.utc)
    return ArchiveEntry(path, m["id"], m["region"], issue, cycle, int(m["rev"] or 1))


def entries(root: str | Path) -> list[ArchiveEntry]:
    """Every archived bulletin file under ``root``, oldest first (issue, cycle, revision)."""
    root = Path(root)
    if not root.is_dir():
        return []
    found = [e for p in root.glob("[0-9][0-9][0-9][0-9]/[0-9][0-9]/*.json") if (e := parse_name(p))]
    return sorted(found, key=lambda e: (e.issue_time, e.cycle, e.id, e.revision))


def _revisions(bulletin: Bulletin, root: Path) -> list[ArchiveEntry]:
    folder = archive_path(bulletin, root).parent
    if not folder.is_dir():
        return []
    out = [
        e
        for p in folder.glob(f"{bulletin.id}*.json")
        if (e := parse_name(p)) is not None and e.id == bulletin.id
    ]
    return sorted(out, key=lambda e: e.revision)


@contextmanager
def _locked(root: Path) -> Iterator[None]:
    root.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # not POSIX: no inter-process lock
        yield
        return
    fd = os.open(root, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _same_content(path: Path, data: bytes) -> bool:
    """True when the stored file holds the same document (tolerant of formatting only)."""
    stored = path.read_bytes()
    if stored == data:
        return True
    try:
        return canonical_json(json.loads(stored.decode("utf-8"))) == data
    except (UnicodeDecodeError, json.JSONDecodeError):
        return False


def archive(bulletin: Bulletin, root: str | Path) -> Path:
    """Archive the bulletin; return its path (see the module docstring for revisions).

    The bulletin's own ``revision`` is ignored: the archive decides it (1 for a new id, the
    latest stored revision when the content is the same, latest + 1 when it differs).
    """
    root = Path(root)
    with _locked(root):
        existing = _revisions(bulletin, root)
        if existing:
            last = existing[-1].revision
            candidate = bulletin.replace(revision=last)
            if _same_content(existing[-1].path, dumps(candidate)):
                return existing[-1].path
            revision = last + 1
        else:
            revision = 1
        candidate = bulletin.replace(revision=revision)
        path = archive_path(candidate, root)
        if path.exists():  # a gap in the revision numbers: never overwrite
            raise FileExistsError(f"{path} exists but is not the latest revision of {bulletin.id}")
        return write_bytes_atomic(path, dumps(candidate))


def _latest_revisions(root: str | Path) -> list[ArchiveEntry]:
    """The latest revision of each id, newest bulletin first."""
    by_id: dict[str, ArchiveEntry] = {}
    for e in entries(root):
        by_id[e.id] = e  # entries are sorted by revision within an id
    return sorted(by_id.values(), key=lambda e: (e.issue_time, e.cycle, e.id), reverse=True)


def _find(
    root: str | Path, before: datetime | None, region: str | None, city: str | None
) -> Bulletin | None:
    limit = None if before is None else to_beijing(before, "before")
    for e in _latest_revisions(root):
        if limit is not None and e.issue_time >= limit:
            continue
        if region is not None and e.region != region:
            continue
        b = load_bulletin(e.path)
        if city is None or city in b.city_ids:
            return b
    return None


def latest(
    root: str | Path, *, region: str | None = None, city: str | None = None
) -> Bulletin | None:
    """The newest archived bulletin (latest revision) of ``region`` / containing ``city``."""
    return _find(root, None, region, city)


def previous_bulletin(
    root: str | Path,
    before: datetime,
    *,
    region: str | None = None,
    city: str | None = None,
) -> Bulletin | None:
    """The newest archived bulletin issued strictly before ``before`` (tz-aware)."""
    return _find(root, before, region, city)
