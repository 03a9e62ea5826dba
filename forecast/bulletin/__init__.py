"""Bulletins of the Wu-Chang-Shi early-warning engine: model, JSON, archive and renderings.

- :mod:`~forecast.bulletin.model` — the typed bulletin (:class:`Bulletin`) and its id;
- :mod:`~forecast.bulletin.json_io` — canonical JSON, the JSON Schema, :func:`validate_bulletin`;
- :mod:`~forecast.bulletin.archive` — ``root/YYYY/MM/<id>.json`` with revisions;
- :mod:`~forecast.bulletin.cap` — OASIS CAP 1.2 alerts;
- :mod:`~forecast.bulletin.text`, :mod:`~forecast.bulletin.png`, :mod:`~forecast.bulletin.html`
  — plain text, per-city PNG plots, one self-contained HTML page;
- :mod:`~forecast.bulletin.examples` — a realistic synthetic example.

matplotlib is imported only when a PNG (or the HTML page, which embeds them) is rendered.
"""

from __future__ import annotations

from forecast.bulletin.archive import archive, latest, previous_bulletin
from forecast.bulletin.cap import cap_alert, cap_alerts, link_references, write_cap
from forecast.bulletin.html import render_html, write_html
from forecast.bulletin.json_io import (
    SCHEMA_ID,
    BulletinValidationError,
    dumps,
    load_bulletin,
    validate_bulletin,
    write_bulletin,
)
from forecast.bulletin.model import (
    Bulletin,
    CapReference,
    CityForecast,
    DailyForecast,
    HourlyForecast,
    InputStatus,
    LocalText,
    ObservedSeries,
    RegionalWarning,
    UnsafeNameError,
    WarningState,
    bulletin_id,
    daily_forecast,
    safe_name,
)
from forecast.bulletin.outputs import write_outputs
from forecast.bulletin.png import render_png
from forecast.bulletin.text import render_text

__all__ = [
    "SCHEMA_ID",
    "Bulletin",
    "BulletinValidationError",
    "CapReference",
    "CityForecast",
    "DailyForecast",
    "HourlyForecast",
    "InputStatus",
    "LocalText",
    "ObservedSeries",
    "RegionalWarning",
    "UnsafeNameError",
    "WarningState",
    "archive",
    "bulletin_id",
    "cap_alert",
    "cap_alerts",
    "daily_forecast",
    "dumps",
    "latest",
    "link_references",
    "load_bulletin",
    "previous_bulletin",
    "render_html",
    "render_png",
    "render_text",
    "safe_name",
    "validate_bulletin",
    "write_bulletin",
    "write_cap",
    "write_html",
    "write_outputs",
]
