"""Words shared by every output: level and action names, health advice, composed headlines.

The health advice per warning level and the dust advice are package data
(``forecast/data/bulletin/advice.json``) so that wording can change without touching code.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import date, datetime
from functools import cache
from importlib import resources
from typing import Any

from forecast.bulletin.model import (
    LEVEL_RANK,
    LEVELS,
    CityForecast,
    LocalText,
    RegionalWarning,
    WarningState,
    to_beijing,
)

#: Public colour of each warning level (background) and a readable text colour on it.
LEVEL_COLOURS: dict[str, tuple[str, str]] = {
    "none": ("#E8ECEF", "#1B1F23"),
    "blue": ("#1565C0", "#FFFFFF"),
    "yellow": ("#FFD600", "#1B1F23"),
    "orange": ("#FF7E00", "#1B1F23"),
    "red": ("#D50000", "#FFFFFF"),
}

LEVEL_NAMES: dict[str, LocalText] = {
    "none": LocalText("无预警", "No warning"),
    "blue": LocalText("蓝色预警", "Blue warning"),
    "yellow": LocalText("黄色预警", "Yellow warning"),
    "orange": LocalText("橙色预警", "Orange warning"),
    "red": LocalText("红色预警", "Red warning"),
}

COLOUR_WORDS: dict[str, LocalText] = {
    "none": LocalText("无", "no"),
    "blue": LocalText("蓝色", "blue"),
    "yellow": LocalText("黄色", "yellow"),
    "orange": LocalText("橙色", "orange"),
    "red": LocalText("红色", "red"),
}

ACTION_NAMES: dict[str, LocalText] = {
    "issue": LocalText("发布", "issued"),
    "upgrade": LocalText("升级", "upgraded"),
    "downgrade": LocalText("降级", "downgraded"),
    "maintain": LocalText("维持", "maintained"),
    "lift": LocalText("解除", "lifted"),
    "none": LocalText("—", "—"),
}

STATUS_NAMES: dict[str, LocalText] = {
    "ok": LocalText("正常", "ok"),
    "degraded": LocalText("降级运行", "degraded"),
    "failed": LocalText("失败", "failed"),
    "no_forecast": LocalText("无预报", "No forecast"),
}

NO_FORECAST = STATUS_NAMES["no_forecast"]


def level_name(level: str, lang: str) -> str:
    return LEVEL_NAMES[level].get(lang)


def action_name(action: str, lang: str) -> str:
    return ACTION_NAMES[action].get(lang)


@cache
def _advice_data() -> dict[str, Any]:
    path = resources.files("forecast") / "data" / "bulletin" / "advice.json"
    data: dict[str, Any] = json.loads(path.read_text("utf-8"))
    return data


def health_advice(level: str) -> LocalText:
    """Health advice for a warning level (package data ``advice.json``)."""
    entry = _advice_data()["levels"][level]
    return LocalText(entry["zh"], entry["en"])


def dust_advice() -> LocalText:
    """Advice for dust days (PM10 primary): health advice, never a colour warning (2024 rules)."""
    entry = _advice_data()["dust"]
    return LocalText(entry["zh"], entry["en"])


def has_dust_day(cities: Iterable[CityForecast]) -> bool:
    """True when any forecast day has PM10 as its primary pollutant (a dust day)."""
    return any(d.primary_pollutant == "pm10" for c in cities for d in c.daily)


def format_time(t: datetime, lang: str) -> str:
    """A Beijing time for readers: ``2025-01-16 00:00`` (+ the zone name)."""
    b = to_beijing(t)
    return b.strftime("%Y-%m-%d %H:%M") + ("（北京时间）" if lang == "zh" else " Beijing time")


def format_day(d: date, lang: str) -> str:
    return f"{d.month}月{d.day}日" if lang == "zh" else d.strftime("%d %b")


def warning_headline(name: LocalText, w: WarningState, lang: str) -> str:
    """One-line headline of a warning (``乌鲁木齐重污染天气预警由橙色升级为红色``)."""
    n = name.get(lang)
    colour = COLOUR_WORDS[w.level].get(lang)
    prev = COLOUR_WORDS[w.previous_level].get(lang) if w.previous_level else None
    if lang == "zh":
        if w.action == "issue":
            return f"{n}发布重污染天气{colour}预警"
        if w.action in ("upgrade", "downgrade"):
            verb = "升级" if w.action == "upgrade" else "降级"
            return (
                f"{n}重污染天气预警由{prev}{verb}为{colour}"
                if prev
                else f"{n}重污染天气预警{verb}为{colour}预警"
            )
        if w.action == "maintain":
            return f"{n}继续维持重污染天气{colour}预警"
        if w.action == "lift":
            return f"{n}解除重污染天气预警"
        return f"{n}：{level_name(w.level, 'zh')}"
    if w.action == "issue":
        return f"{n}: {colour} heavy air pollution warning issued"
    if w.action in ("upgrade", "downgrade"):
        verb = "upgraded" if w.action == "upgrade" else "downgraded"
        src = f" from {prev}" if prev else ""
        return f"{n}: heavy air pollution warning {verb}{src} to {colour}"
    if w.action == "maintain":
        return f"{n}: {colour} heavy air pollution warning maintained"
    if w.action == "lift":
        return f"{n}: heavy air pollution warning lifted"
    return f"{n}: {level_name(w.level, 'en')}"


def validity(w: WarningState, lang: str) -> str:
    """``2025-01-16 00:00 – 2025-01-20 00:00（北京时间）`` or empty."""
    if w.valid_from is None and w.valid_to is None:
        return ""
    a = to_beijing(w.valid_from).strftime("%Y-%m-%d %H:%M") if w.valid_from else "…"
    b = to_beijing(w.valid_to).strftime("%Y-%m-%d %H:%M") if w.valid_to else "…"
    return f"{a} – {b}" + ("（北京时间）" if lang == "zh" else " Beijing time")


def daily_summary(city: CityForecast, lang: str) -> str:
    """``1月15日 AQI 215（重度污染）；…`` for the city's forecast days."""
    if lang == "zh":
        return "；".join(
            f"{format_day(d.date, 'zh')} AQI {d.aqi}（{d.category.name_zh}）" for d in city.daily
        )
    return "; ".join(
        f"{format_day(d.date, 'en')} AQI {d.aqi} ({d.category.name_en})" for d in city.daily
    )


def warning_description(
    name: LocalText, w: WarningState, city: CityForecast | None, lang: str
) -> str:
    """Description of one warning: headline, validity, reason, daily AQI forecast."""
    parts = [warning_headline(name, w, lang)]
    span = validity(w, lang)
    if span:
        parts.append(("有效时段：" if lang == "zh" else "Valid: ") + span)
    if w.reason:
        parts.append(("依据：" if lang == "zh" else "Reason: ") + w.reason)
    if city is not None and city.daily:
        parts.append(
            ("逐日AQI预报：" if lang == "zh" else "Daily AQI forecast: ")
            + daily_summary(city, lang)
        )
    sep = "。" if lang == "zh" else ". "
    return sep.join(p.rstrip("。.") for p in parts) + ("。" if lang == "zh" else ".")


def levels_in_force(cities: Iterable[CityForecast], regional: RegionalWarning) -> list[str]:
    """Warning levels in force after this bulletin, highest first (``none`` when no warning)."""
    levels = {c.warning.level for c in cities if c.warning is not None}
    levels.add(regional.warning.level)
    return sorted(levels, key=lambda lvl: -LEVEL_RANK[lvl])


def auto_texts(
    cities: Iterable[CityForecast], regional: RegionalWarning
) -> tuple[LocalText, LocalText, LocalText]:
    """Default (headline, description, advice) composed from the warnings.

    Headline: the regional warning, then the cities whose warning changed (issue, upgrade,
    downgrade, lift). Description: one sentence per warning and the cities without a forecast.
    Advice: the health advice of the highest level in force (plus the dust advice on dust days).
    """
    cities = list(cities)
    region_name = LocalText(regional.name_zh, regional.name_en)
    out: dict[str, tuple[str, str, str]] = {}
    for lang in ("zh", "en"):
        heads = [warning_headline(region_name, regional.warning, lang)]
        descs = [warning_description(region_name, regional.warning, None, lang)]
        for c in cities:
            name = LocalText(c.name_zh, c.name_en)
            if c.status != "ok":
                descs.append(
                    f"{c.name_zh}暂无预报：{c.reason}。"
                    if lang == "zh"
                    else f"{c.name_en}: no forecast ({c.reason})."
                )
            if c.warning is None:
                continue
            if c.warning.action in ("issue", "upgrade", "downgrade", "lift"):
                heads.append(warning_headline(name, c.warning, lang))
            if c.warning.action != "none" or c.warning.level != "none":
                descs.append(warning_description(name, c.warning, c, lang))
        top = levels_in_force(cities, regional)[0]
        advice = [health_advice(top).get(lang)]
        if has_dust_day(cities):
            advice.append(dust_advice().get(lang))
        sep = "；" if lang == "zh" else "; "
        join = "" if lang == "zh" else " "
        out[lang] = (sep.join(heads), join.join(descs), join.join(advice))
    return (
        LocalText(out["zh"][0], out["en"][0]),
        LocalText(out["zh"][1], out["en"][1]),
        LocalText(out["zh"][2], out["en"][2]),
    )


__all__ = [
    "ACTION_NAMES",
    "LEVELS",
    "LEVEL_COLOURS",
    "LEVEL_NAMES",
    "auto_texts",
    "dust_advice",
    "health_advice",
    "warning_headline",
]
