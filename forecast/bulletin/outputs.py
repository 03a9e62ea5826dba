"""Write a bulletin in the configured formats (``output.formats`` in config.yaml).

File names (all in ``out_dir``, all written atomically):

======  =================================================================
json    ``<id>.json`` (revision 1) or ``<id>.r<n>.json``
cap     ``<id>.<city>.cap.xml`` and ``<id>.region.cap.xml`` (warnings that emit an alert)
text    ``<id>.txt``
html    ``<id>.html`` (PNG plots embedded)
png     ``<id>.<city>.png``
======  =================================================================
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from forecast.bulletin.archive import file_name
from forecast.bulletin.cap import DEFAULT_SENDER, CapStatus, write_cap
from forecast.bulletin.json_io import write_bulletin
from forecast.bulletin.model import Bulletin
from forecast.io import write_bytes_atomic

FORMATS = ("json", "cap", "text", "html", "png")


def write_outputs(
    bulletin: Bulletin,
    out_dir: str | Path,
    formats: Iterable[str] = FORMATS,
    *,
    sender: str = DEFAULT_SENDER,
    cap_status: CapStatus | None = None,
) -> list[Path]:
    """Write the bulletin in each format; return the paths written."""
    formats = list(formats)
    unknown = sorted(set(formats) - set(FORMATS))
    if unknown:
        raise ValueError(f"unknown bulletin format(s) {unknown}; valid: {', '.join(FORMATS)}")
    out = Path(out_dir)
    paths: list[Path] = []
    images: dict[str, bytes] | None = None
    if "png" in formats or "html" in formats:
        from forecast.bulletin.png import render_png

        images = {c.city_id: render_png(bulletin, c.city_id) for c in bulletin.cities}
    for fmt in FORMATS:
        if fmt not in formats:
            continue
        if fmt == "json":
            paths.append(write_bulletin(bulletin, out / file_name(bulletin.id, bulletin.revision)))
        elif fmt == "cap":
            paths += write_cap(bulletin, out, sender=sender, status=cap_status)
        elif fmt == "text":
            from forecast.bulletin.text import render_text

            data = render_text(bulletin).encode("utf-8")
            paths.append(write_bytes_atomic(out / f"{bulletin.id}.txt", data))
        elif fmt == "html":
            from forecast.bulletin.html import write_html

            paths.append(write_html(bulletin, out / f"{bulletin.id}.html", images))
        elif fmt == "png":
            assert images is not None
            for city, png in images.items():
                paths.append(write_bytes_atomic(out / f"{bulletin.id}.{city}.png", png))
    return paths
