"""OASIS Common Alerting Protocol 1.2 messages for the bulletin's warnings.

One CAP ``<alert>`` (namespace ``urn:oasis:names:tc:emergency:cap:1.2``) per city warning that
changes or continues something (every action except ``none``) and one for the regional warning.
Each alert has one ``<info>`` in ``zh-CN`` and one in ``en-US``.

Mapping (no official Chinese mapping exists; see docs/domain.md §4):

======================  =============================================================
warning action          ``msgType`` (``references`` = the alert it changes)
======================  =============================================================
issue                   Alert
upgrade/downgrade       Update (references required)
maintain                Update (references required)
lift                    Cancel (references required)
======================  =============================================================

Severity: blue → Minor, yellow → Moderate, orange → Severe, red → Extreme (a ``lift`` keeps the
severity of the level it cancels). Urgency: Future when the warning starts after the message is
sent, Immediate when it is already in progress, Past for a Cancel. Certainty: the warning's
(CAP vocabulary). Status: Actual, or Exercise for synthetic/demo bulletins.

Identifiers: ``<bulletin id>.<city id>`` (``.region`` for the regional warning), plus
``.r<n>`` for revision n > 1 of a bulletin; the file name is ``<identifier>.cap.xml``.
``references`` are filled from the previous bulletin by :func:`link_references`.

Areas: a documented approximate polygon per city, the bounding box of the city's non-reference
national stations (``config.yaml``, station list of 2022-02-13) widened by 0.05°, plus the
administrative division code (GB/T 2260) as a geocode. :func:`areas_from_config` recomputes the
boxes from a configuration; :data:`CITY_AREAS` holds them for the four cities.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from forecast.bulletin.model import (
    REGIONAL_TARGET,
    Bulletin,
    CapReference,
    CityForecast,
    LocalText,
    WarningState,
    format_beijing,
    safe_name,
)
from forecast.bulletin.texts import (
    COLOUR_WORDS,
    health_advice,
    warning_description,
    warning_headline,
)
from forecast.io import write_bytes_atomic

if TYPE_CHECKING:
    from forecast.config import Config

CAP_NS = "urn:oasis:names:tc:emergency:cap:1.2"
DEFAULT_SENDER = "wcs-forecast@wuchangshi.example"
SENDER_NAME = LocalText(
    "乌昌石区域重污染天气预报预警系统", "Wu-Chang-Shi heavy air pollution early warning"
)

CapStatus = Literal["Actual", "Exercise", "System", "Test"]
CAP_STATUSES: tuple[CapStatus, ...] = ("Actual", "Exercise", "System", "Test")

#: Warning level → CAP severity.
SEVERITY: dict[str, str] = {
    "blue": "Minor",
    "yellow": "Moderate",
    "orange": "Severe",
    "red": "Extreme",
}
#: Warning lifecycle action → CAP msgType.
MSG_TYPE: dict[str, str] = {
    "issue": "Alert",
    "upgrade": "Update",
    "downgrade": "Update",
    "maintain": "Update",
    "lift": "Cancel",
}
LANGUAGES: dict[str, str] = {"zh": "zh-CN", "en": "en-US"}
EXERCISE_NOTE = (
    "演练/示例数据，并非真实预警。Exercise: synthetic or demonstration data, not a real warning."
)


class CapError(ValueError):
    """A warning cannot be expressed as a correct CAP message."""


@dataclass(frozen=True)
class CapArea:
    """A CAP ``<area>``: description, polygon (lat, lon vertices, WGS84) and geocodes."""

    name_zh: str
    name_en: str
    polygon: tuple[tuple[float, float], ...]
    geocodes: tuple[tuple[str, str], ...] = ()

    def polygon_text(self) -> str:
        """CAP polygon: ``lat,lon`` pairs separated by spaces, first point repeated last."""
        pts = list(self.polygon)
        if pts[0] != pts[-1]:
            pts.append(pts[0])
        return " ".join(f"{lat:.4f},{lon:.4f}" for lat, lon in pts)


def box_polygon(
    lat_min: float, lon_min: float, lat_max: float, lon_max: float
) -> tuple[tuple[float, float], ...]:
    """A closed rectangle (5 vertices) from the south-west corner, counter-clockwise."""
    return (
        (lat_min, lon_min),
        (lat_min, lon_max),
        (lat_max, lon_max),
        (lat_max, lon_min),
        (lat_min, lon_min),
    )


GEOCODE_NAME = "GB/T 2260"
#: Administrative division codes (GB/T 2260) of the four cities.
GEOCODES: dict[str, str] = {
    "urumqi": "650100",  # 乌鲁木齐市
    "changji": "652300",  # 昌吉回族自治州
    "shihezi": "659001",  # 石河子市
    "wujiaqu": "659004",  # 五家渠市
}

#: Approximate city polygons: bounding box of each city's non-reference national stations
#: (config.yaml) widened by 0.05°; regenerate with :func:`areas_from_config`.
CITY_AREAS: dict[str, CapArea] = {
    "urumqi": CapArea(
        "乌鲁木齐", "Urumqi", box_polygon(43.3158, 87.3671, 44.2247, 88.3618),
        ((GEOCODE_NAME, GEOCODES["urumqi"]),),
    ),
    "changji": CapArea(
        "昌吉州", "Changji", box_polygon(43.9614, 87.2217, 44.0797, 87.3595),
        ((GEOCODE_NAME, GEOCODES["changji"]),),
    ),
    "shihezi": CapArea(
        "石河子", "Shihezi", box_polygon(44.1831, 85.9970, 44.3575, 86.1197),
        ((GEOCODE_NAME, GEOCODES["shihezi"]),),
    ),
    "wujiaqu": CapArea(
        "五家渠", "Wujiaqu", box_polygon(44.1256, 87.4960, 44.2412, 87.5975),
        ((GEOCODE_NAME, GEOCODES["wujiaqu"]),),
    ),
}  # fmt: skip


def areas_from_config(config: Config, margin_deg: float = 0.05) -> dict[str, CapArea]:
    """City areas from the configured stations: bounding box of non-reference stations ± margin."""
    areas: dict[str, CapArea] = {}
    for city in config.cities:
        sts = [s for s in config.stations_of(city.id) if not s.reference_site]
        lats, lons = [s.lat for s in sts], [s.lon for s in sts]
        poly = box_polygon(
            round(min(lats) - margin_deg, 4),
            round(min(lons) - margin_deg, 4),
            round(max(lats) + margin_deg, 4),
            round(max(lons) + margin_deg, 4),
        )
        codes = ((GEOCODE_NAME, GEOCODES[city.id]),) if city.id in GEOCODES else ()
        areas[city.id] = CapArea(city.name_zh, city.name_en, poly, codes)
    return areas


# --------------------------------------------------------------------------------------------
# identifiers and references


def cap_identifier(bulletin: Bulletin, target: str) -> str:
    """CAP identifier of the alert for ``target`` (a city id or ``"region"``)."""
    safe_name(target, "CAP target")
    ident = f"{bulletin.id}.{target}"
    return ident if bulletin.revision == 1 else f"{ident}.r{bulletin.revision}"


def _check_sender(sender: str) -> str:
    if not sender or any(c.isspace() or c in ",<&" for c in sender):
        raise CapError(f"CAP sender {sender!r} must not contain spaces, commas, '<' or '&'")
    return sender


def link_references(
    bulletin: Bulletin, previous: Bulletin | None, sender: str = DEFAULT_SENDER
) -> Bulletin:
    """Fill ``references`` (and a missing ``previous_level``) from the previous bulletin.

    For every warning whose action updates or cancels an earlier alert (upgrade, downgrade,
    maintain, lift), the reference is the CAP alert the previous bulletin emitted for the same
    city (or the region). Warnings that already have references are left unchanged.
    """
    _check_sender(sender)
    if previous is None:
        return bulletin
    prev = dict(previous.warnings())

    def link(target: str, w: WarningState) -> WarningState:
        if w.action in ("issue", "none") or w.references:
            return w
        old = prev.get(target)
        if old is None or not old.emits_alert:
            return w
        ref = CapReference(sender, cap_identifier(previous, target), previous.issue_time)
        return replace(w, references=(ref,), previous_level=w.previous_level or old.level)

    cities = tuple(
        c if c.warning is None else replace(c, warning=link(c.city_id, c.warning))
        for c in bulletin.cities
    )
    regional = replace(bulletin.regional, warning=link(REGIONAL_TARGET, bulletin.regional.warning))
    return replace(bulletin, cities=cities, regional=regional)


# --------------------------------------------------------------------------------------------
# XML


def _sub(parent: ET.Element, tag: str, text: str | None = None) -> ET.Element:
    el = ET.SubElement(parent, f"{{{CAP_NS}}}{tag}")
    if text is not None:
        el.text = text
    return el


def _urgency(w: WarningState, bulletin: Bulletin) -> str:
    if w.action == "lift":
        return "Past"
    if w.valid_from is not None and w.valid_from > bulletin.issue_time:
        return "Future"
    return "Immediate"


def _severity(w: WarningState) -> str:
    level = w.previous_level if w.action == "lift" else w.level
    return SEVERITY.get(level or "", "Unknown")


def _event(w: WarningState, lang: str) -> str:
    if w.action == "lift":
        return "重污染天气预警解除" if lang == "zh" else "Heavy air pollution warning lifted"
    colour = COLOUR_WORDS[w.level].get(lang)
    return f"重污染天气{colour}预警" if lang == "zh" else f"Heavy air pollution {colour} warning"


def cap_alert(
    bulletin: Bulletin,
    target: str,
    *,
    sender: str = DEFAULT_SENDER,
    status: CapStatus | None = None,
    areas: Mapping[str, CapArea] | None = None,
) -> bytes:
    """The CAP 1.2 XML (UTF-8 bytes) of the warning of ``target`` (city id or ``"region"``)."""
    _check_sender(sender)
    areas = CITY_AREAS if areas is None else areas
    city: CityForecast | None = None
    if target == REGIONAL_TARGET:
        w = bulletin.regional.warning
        name = LocalText(bulletin.regional.name_zh, bulletin.regional.name_en)
        area_ids = list(bulletin.regional.member_cities)
    else:
        city = bulletin.city(target)
        if city.warning is None:
            raise CapError(f"{target}: no warning in bulletin {bulletin.id}")
        w = city.warning
        name = LocalText(city.name_zh, city.name_en)
        area_ids = [target]
    if not w.emits_alert:
        raise CapError(f"{target}: warning action 'none' produces no CAP alert")
    msg_type = MSG_TYPE[w.action]
    if msg_type != "Alert" and not w.references:
        raise CapError(
            f"{target}: action {w.action!r} is a CAP {msg_type} and must reference the alert it "
            "changes; fill warning.references (forecast.bulletin.cap.link_references with the "
            "previous bulletin)"
        )
    missing = [a for a in area_ids if a not in areas]
    if missing:
        raise CapError(f"no CAP area (polygon/geocode) for {', '.join(missing)}")
    status = status or ("Exercise" if bulletin.synthetic else "Actual")
    if status not in CAP_STATUSES:
        raise CapError(f"CAP status {status!r} is not one of {', '.join(CAP_STATUSES)}")

    sent = format_beijing(bulletin.issue_time)
    alert = ET.Element(f"{{{CAP_NS}}}alert")
    _sub(alert, "identifier", cap_identifier(bulletin, target))
    _sub(alert, "sender", sender)
    _sub(alert, "sent", sent)
    _sub(alert, "status", status)
    _sub(alert, "msgType", msg_type)
    _sub(alert, "source", bulletin.id)
    _sub(alert, "scope", "Public")
    if status == "Exercise":
        _sub(alert, "note", EXERCISE_NOTE)
    if w.references:
        _sub(alert, "references", " ".join(r.render() for r in w.references))
    advice_level = "none" if w.action == "lift" else w.level
    for lang, cap_lang in LANGUAGES.items():
        info = _sub(alert, "info")
        _sub(info, "language", cap_lang)
        _sub(info, "category", "Env")
        _sub(info, "event", _event(w, lang))
        _sub(info, "urgency", _urgency(w, bulletin))
        _sub(info, "severity", _severity(w))
        _sub(info, "certainty", w.certainty)
        _sub(info, "effective", sent)
        if w.action != "lift" and w.valid_from is not None:
            _sub(info, "onset", format_beijing(w.valid_from))
        if w.action != "lift" and w.valid_to is not None:
            _sub(info, "expires", format_beijing(w.valid_to))
        _sub(info, "senderName", SENDER_NAME.get(lang))
        _sub(info, "headline", warning_headline(name, w, lang))
        _sub(info, "description", warning_description(name, w, city, lang))
        _sub(info, "instruction", health_advice(advice_level).get(lang))
        params = [("level", w.level), ("action", w.action), ("bulletin", bulletin.id)]
        if w.previous_level is not None:
            params.append(("previousLevel", w.previous_level))
        if w.rule:
            params.append(("rule", w.rule))
        params += [(f"probability:{k}", f"{v:.3f}") for k, v in w.probabilities.items()]
        for key, value in params:
            p = _sub(info, "parameter")
            _sub(p, "valueName", f"wcs:{key}")
            _sub(p, "value", value)
        for area_id in area_ids:
            a = areas[area_id]
            area = _sub(info, "area")
            _sub(area, "areaDesc", a.name_zh if lang == "zh" else a.name_en)
            _sub(area, "polygon", a.polygon_text())
            for code_name, code in a.geocodes:
                g = _sub(area, "geocode")
                _sub(g, "valueName", code_name)
                _sub(g, "value", code)
    ET.indent(alert, space="  ")
    body: bytes = ET.tostring(
        alert, encoding="utf-8", xml_declaration=False, default_namespace=CAP_NS
    )
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + body + b"\n"


def cap_alerts(
    bulletin: Bulletin,
    *,
    sender: str = DEFAULT_SENDER,
    status: CapStatus | None = None,
    areas: Mapping[str, CapArea] | None = None,
) -> dict[str, bytes]:
    """``{file name: CAP XML}`` for every warning that emits an alert (cities, then region)."""
    out: dict[str, bytes] = {}
    for target, w in bulletin.warnings():
        if w.emits_alert:
            xml = cap_alert(bulletin, target, sender=sender, status=status, areas=areas)
            out[f"{cap_identifier(bulletin, target)}.cap.xml"] = xml
    return out


def write_cap(
    bulletin: Bulletin,
    out_dir: str | Path,
    *,
    sender: str = DEFAULT_SENDER,
    status: CapStatus | None = None,
    areas: Mapping[str, CapArea] | None = None,
) -> list[Path]:
    """Write every CAP alert of the bulletin into ``out_dir`` (atomically); return the paths."""
    out = Path(out_dir)
    return [
        write_bytes_atomic(out / safe_name(name, "CAP file name"), xml)
        for name, xml in cap_alerts(bulletin, sender=sender, status=status, areas=areas).items()
    ]
