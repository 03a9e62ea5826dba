"""The plain-text bulletin, in Chinese and English.

Sections per language: title and times, headline, regional warning, per-city table (date, AQI,
category, warning level, action), cities without a forecast, description, health advice per
level in force (and the dust advice on dust days), input status and model versions. Columns are
aligned by display width (a Chinese character is two columns wide).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

from forecast.bulletin.model import Bulletin, LocalText, format_utc
from forecast.bulletin.texts import (
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

TITLE = LocalText(
    "乌昌石区域重污染天气预报预警公报",
    "Wu-Chang-Shi heavy air pollution forecast and warning bulletin",
)
_HEADERS = {
    "zh": ("城市", "日期", "AQI", "类别", "预警等级", "动作"),
    "en": ("City", "Date", "AQI", "Category", "Warning", "Action"),
}
_LABELS = {
    "zh": {
        "id": "编号", "revision": "版本", "issued": "发布时间", "cycle": "模式起报",
        "standard": "AQI标准", "synthetic": "【演练/示例：合成数据，并非真实预警】",
        "headline": "标题", "regional": "区域预警", "valid": "有效时段", "reason": "依据",
        "cities": "城市预报", "no_forecast": "无预报", "description": "说明",
        "advice": "健康提示", "dust": "沙尘提示", "inputs": "输入数据状态",
        "models": "模型版本", "members": "成员城市",
    },
    "en": {
        "id": "Id", "revision": "revision", "issued": "Issued", "cycle": "NWP cycle",
        "standard": "AQI standard", "synthetic": "[EXERCISE / EXAMPLE: synthetic data, not a real "
        "warning]", "headline": "Headline", "regional": "Regional warning", "valid": "Valid",
        "reason": "Reason", "cities": "City forecasts", "no_forecast": "No forecast",
        "description": "Description", "advice": "Health advice", "dust": "Dust advice",
        "inputs": "Input status", "models": "Model versions", "members": "member cities",
    },
}  # fmt: skip


def display_width(text: str) -> int:
    """Columns a monospace terminal uses for ``text`` (wide East Asian characters count 2)."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _pad(text: str, width: int, right: bool = False) -> str:
    fill = " " * max(width - display_width(text), 0)
    return fill + text if right else text + fill


def table(rows: Sequence[Sequence[str]], right: Sequence[int] = ()) -> list[str]:
    """Rows aligned by display width (first row: headers, underlined)."""
    widths = [max(display_width(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for n, row in enumerate(rows):
        cells = [_pad(c, widths[i], i in right) for i, c in enumerate(row)]
        lines.append("  ".join(cells).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return lines


def _language(b: Bulletin, lang: str) -> list[str]:
    lab = _LABELS[lang]
    colon = "：" if lang == "zh" else ": "
    lines = [TITLE.get(lang), "=" * display_width(TITLE.get(lang))]
    lines.append(f"{lab['id']}{colon}{b.id} ({lab['revision']} {b.revision})")
    lines.append(f"{lab['issued']}{colon}{format_time(b.issue_time, lang)}")
    lines.append(f"{lab['cycle']}{colon}{format_utc(b.cycle)} (UTC)")
    lines.append(f"{lab['standard']}{colon}{b.aqi_standard}")
    if b.synthetic:
        lines.append(lab["synthetic"])
    lines += ["", f"{lab['headline']}{colon}{b.headline.get(lang)}", ""]

    reg = b.regional
    name = LocalText(reg.name_zh, reg.name_en)
    w = reg.warning
    lines.append(
        f"{lab['regional']}{colon}{name.get(lang)} — {level_name(w.level, lang)}"
        f" ({action_name(w.action, lang)})"
    )
    lines.append(f"  {warning_headline(name, w, lang)}")
    span = validity(w, lang)
    if span:
        lines.append(f"  {lab['valid']}{colon}{span}")
    if w.reason:
        lines.append(f"  {lab['reason']}{colon}{w.reason}")
    members = [
        c.name_zh if lang == "zh" else c.name_en for c in b.cities if c.city_id in reg.member_cities
    ]
    lines.append(f"  {lab['members']}{colon}{(', ' if lang == 'en' else '、').join(members)}")
    lines += ["", f"{lab['cities']}{colon}".rstrip()]

    rows: list[list[str]] = [list(_HEADERS[lang])]
    missing: list[str] = []
    for c in b.cities:
        cname = c.name_zh if lang == "zh" else c.name_en
        level = level_name(c.warning.level, lang) if c.warning else "—"
        action = action_name(c.warning.action, lang) if c.warning else "—"
        if c.status != "ok" or not c.daily:
            rows.append([cname, "—", "—", STATUS_NAMES["no_forecast"].get(lang), level, action])
            missing.append(f"  {cname}{colon}{STATUS_NAMES[c.status].get(lang)} — {c.reason}")
            continue
        for k, d in enumerate(c.daily):
            cat = d.category.name_zh if lang == "zh" else d.category.name_en
            if d.primary_pollutant == "pm10":
                cat += "（沙尘）" if lang == "zh" else " (dust)"
            rows.append(
                [
                    cname if k == 0 else "",
                    d.date.isoformat(),
                    str(d.aqi),
                    cat,
                    level if k == 0 else "",
                    action if k == 0 else "",
                ]
            )
    lines += ["  " + line for line in table(rows, right=(2,))]
    if missing:
        lines += ["", f"{lab['no_forecast']}{colon}".rstrip(), *missing]
    lines += ["", f"{lab['description']}{colon}{b.description.get(lang)}"]

    lines += ["", f"{lab['advice']}{colon}{b.advice.get(lang)}"]
    for level in levels_in_force(b.cities, b.regional):
        lines.append(f"  {level_name(level, lang)}{colon}{health_advice(level).get(lang)}")
    if has_dust_day(b.cities) and dust_advice().get(lang) not in b.advice.get(lang):
        lines.append(f"  {lab['dust']}{colon}{dust_advice().get(lang)}")

    lines += ["", f"{lab['inputs']}{colon}".rstrip()]
    for s in b.input_status:
        reason = f" — {s.reason}" if s.reason else ""
        lines.append(f"  {s.component}: {STATUS_NAMES[s.status].get(lang)}{reason}")
    lines.append(f"{lab['models']}{colon}".rstrip())
    for city, version in b.model_versions.items():
        lines.append(f"  {city}: {version}")
    return lines


def render_text(b: Bulletin, languages: Sequence[str] = ("zh", "en")) -> str:
    """The bulletin as plain text, one section per language (default Chinese then English)."""
    blocks = []
    for lang in languages:
        if lang not in ("zh", "en"):
            raise ValueError(f"language {lang!r} is not one of zh, en")
        blocks.append("\n".join(_language(b, lang)))
    return ("\n\n" + "-" * 72 + "\n\n").join(blocks) + "\n"
