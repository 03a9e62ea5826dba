"""One self-contained static HTML page of the bulletin (Chinese and English).

Inline CSS (package data ``forecast/data/bulletin/page.css``), the city PNG plots embedded as
base64 ``data:`` URIs, no JavaScript: the page works when opened from disk, without a server.
Every text from the bulletin is escaped with :func:`html.escape`.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from html import escape
from importlib import resources
from pathlib import Path
from string import Template

from forecast.bulletin.model import Bulletin, CityForecast, LocalText, WarningState, format_utc
from forecast.bulletin.text import TITLE
from forecast.bulletin.texts import (
    LEVEL_COLOURS,
    STATUS_NAMES,
    action_name,
    dust_advice,
    format_time,
    has_dust_day,
    health_advice,
    level_name,
    levels_in_force,
    validity,
    warning_headline,
)
from forecast.io import write_bytes_atomic


def _data(name: str) -> str:
    return (resources.files("forecast") / "data" / "bulletin" / name).read_text("utf-8")


def _e(text: object) -> str:
    return escape(str(text), quote=True)


def _bi(t: LocalText, tag: str = "span") -> str:
    """Chinese then English, each marked with its language."""
    return (
        f'<{tag} lang="zh-CN" class="zh">{_e(t.zh)}</{tag}> '
        f'<{tag} lang="en" class="en">{_e(t.en)}</{tag}>'
    )


def _level_style(level: str) -> str:
    bg, fg = LEVEL_COLOURS[level]
    return f"background:{bg};color:{fg}"


def _warning_block(name: LocalText, w: WarningState) -> str:
    lv = LocalText(level_name(w.level, "zh"), level_name(w.level, "en"))
    act = LocalText(action_name(w.action, "zh"), action_name(w.action, "en"))
    headline = LocalText(warning_headline(name, w, "zh"), warning_headline(name, w, "en"))
    action = ""
    if w.action != "none":
        action = f' <span class="action" data-action="{_e(w.action)}">{_bi(act)}</span>'
    rows = [
        f'<p class="level-line"><span class="level" data-level="{_e(w.level)}">{_bi(lv)}</span>'
        f"{action}</p>",
        f"<p>{_bi(headline)}</p>",
    ]
    span = LocalText(validity(w, "zh"), validity(w, "en"))
    if span.zh:
        rows.append(
            f'<p class="meta">有效时段 Valid: {_e(span.en.removesuffix(" Beijing time"))}'
            " (北京时间 Beijing time)</p>"
        )
    if w.reason:
        rows.append(f'<p class="meta">依据 Reason: {_e(w.reason)}</p>')
    if w.rule:
        rows.append(f'<p class="meta">规则 Rule: {_e(w.rule)}</p>')
    if w.probabilities:
        probs = ", ".join(
            f"{_e(level_name(k, 'zh'))} {_e(level_name(k, 'en'))} {v:.0%}"
            for k, v in w.probabilities.items()
        )
        rows.append(
            f'<p class="meta">概率 Probabilities: {probs} · 确定性 Certainty: {_e(w.certainty)}</p>'
        )
    return "\n".join(rows)


def _days_table(c: CityForecast) -> str:
    head = (
        "<tr><th>日期 Date</th><th>PM2.5 p50 (p10–p90) µg/m³</th><th>AQI</th>"
        "<th>类别 Category</th><th>首要污染物 Primary</th></tr>"
    )
    rows = []
    for d in c.daily:
        cat = d.category
        fg = "#FFFFFF" if cat.level in ("V", "VI", "IV") else "#1B1F23"
        primary = {"pm25": "PM2.5", "pm10": "PM10（沙尘 dust）"}.get(d.primary_pollutant or "", "—")
        rows.append(
            f"<tr><td>{_e(d.date.isoformat())}</td>"
            f"<td>{d.pm25_p50:.0f} ({d.pm25_p10:.0f}–{d.pm25_p90:.0f})</td>"
            f'<td class="num">{d.aqi}</td>'
            f'<td style="background:{_e(cat.colour)};color:{fg}">'
            f"{_e(cat.name_zh)} {_e(cat.name_en)}</td><td>{_e(primary)}</td></tr>"
        )
    return f'<table class="days">{head}{"".join(rows)}</table>'


def _city_card(b: Bulletin, c: CityForecast, png: bytes | None) -> str:
    level = c.warning.level if c.warning else "none"
    name = LocalText(c.name_zh, c.name_en)
    parts = [
        f'<section class="card" id="city-{_e(c.city_id)}" data-city="{_e(c.city_id)}">',
        f'<header style="{_level_style(level)}"><h3>{_bi(name)}</h3></header>',
        '<div class="card-body">',
    ]
    if c.status != "ok":
        st = STATUS_NAMES["no_forecast"] if c.status == "no_forecast" else STATUS_NAMES["failed"]
        parts.append(f'<p class="no-forecast"><strong>{_bi(st)}</strong>: {_e(c.reason)}</p>')
    if c.warning is not None:
        parts.append(_warning_block(name, c.warning))
    if c.daily:
        parts.append(_days_table(c))
    if png is not None:
        uri = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
        alt = f"PM2.5 forecast plot, {c.name_en} / {c.name_zh} PM2.5预报图"
        parts.append(f'<img class="plot" src="{uri}" alt="{_e(alt)}" width="1000" height="540">')
    parts.append("</div></section>")
    return "\n".join(parts)


def render_html(b: Bulletin, images: Mapping[str, bytes] | None = None) -> str:
    """The page as a string; ``images`` (city id → PNG bytes) default to :func:`render_png`."""
    if images is None:
        from forecast.bulletin.png import render_png

        images = {c.city_id: render_png(b, c.city_id) for c in b.cities}
    reg = b.regional
    rname = LocalText(reg.name_zh, reg.name_en)
    advice_items = [
        f"<li><strong>{_bi(LocalText(level_name(lv, 'zh'), level_name(lv, 'en')))}</strong>: "
        f"{_bi(health_advice(lv))}</li>"
        for lv in levels_in_force(b.cities, reg)
    ]
    if has_dust_day(b.cities) and dust_advice().en not in b.advice.en:
        advice_items.append(f"<li><strong>沙尘提示 Dust advice</strong>: {_bi(dust_advice())}</li>")
    inputs = "".join(
        f'<tr><td>{_e(s.component)}</td><td class="st-{_e(s.status)}">'
        f"{_bi(STATUS_NAMES[s.status])}</td><td>{_e(s.reason or '')}</td></tr>"
        for s in b.input_status
    )
    models = "".join(
        f"<tr><td>{_e(city)}</td><td>{_e(v)}</td></tr>" for city, v in b.model_versions.items()
    )
    banner = (
        '<p class="exercise">演练/示例：合成数据，并非真实预警 · EXERCISE / EXAMPLE: synthetic '
        "data, not a real warning</p>"
        if b.synthetic
        else ""
    )
    issued = _e(format_time(b.issue_time, "zh"))
    body = f"""
<header class="top">
<h1>{_bi(TITLE)}</h1>
{banner}
<p class="meta">编号 Id: <code>{_e(b.id)}</code> · 版本 Revision {b.revision} ·
发布时间 Issued: <time datetime="{_e(b.issue_time.isoformat())}">{issued}</time> ·
模式起报 NWP cycle: {_e(format_utc(b.cycle))} (UTC) · AQI: {_e(b.aqi_standard)}</p>
</header>
<section class="headline"><h2>{_bi(b.headline, "p")}</h2></section>
<section class="regional" id="regional" style="{_level_style(reg.warning.level)}">
<h2>区域预警 Regional warning — {_bi(rname)}</h2>
{_warning_block(rname, reg.warning)}
</section>
<h2>城市预报 City forecasts</h2>
<div class="cards">
{"".join(_city_card(b, c, images.get(c.city_id)) for c in b.cities)}
</div>
<section class="text">
<h2>健康提示 Health advice</h2>{_bi(b.advice, "p")}
<h3>按预警等级 By warning level</h3><ul>{"".join(advice_items)}</ul>
<h2>说明 Description</h2>{_bi(b.description, "p")}
</section>
<section class="status">
<h2>输入数据状态 Input status</h2>
<table><tr><th>组件 Component</th><th>状态 Status</th><th>原因 Reason</th></tr>{inputs}</table>
<h2>模型版本 Model versions</h2>
<table><tr><th>城市 City</th><th>版本 Version</th></tr>{models}</table>
</section>
"""
    page = Template(_data("page.html"))
    return page.substitute(
        title=_e(f"{TITLE.zh} {TITLE.en} — {b.id}"),
        css=_data("page.css"),
        body=body,
    )


def write_html(b: Bulletin, path: str | Path, images: Mapping[str, bytes] | None = None) -> Path:
    """Write the page atomically (UTF-8)."""
    return write_bytes_atomic(path, render_html(b, images).encode("utf-8"))
