"""One PNG plot per city: the PM2.5 forecast against the AQI categories.

- background bands: the AQI categories (colours of HJ 633) at the PM2.5 24-hour breakpoints of
  the bulletin's standard (``forecast.aqi.CONCENTRATION_BREAKPOINTS``: 35 / 60 or 75 / 115 / 150
  / 250 µg/m³);
- dashed threshold lines at 75, 115, 150 and 250 µg/m³;
- observed hourly PM2.5 before the issue time (black), the hourly forecast median (p50) and the
  p10–p90 band after it, daily-mean medians with their AQI;
- the warning's validity as a bar in the level's colour along the top; level and action in the
  title.

Output is deterministic: matplotlib's object API (no pyplot state), the Agg canvas, fixed
layout and ``metadata={"Software": None}`` so the same bulletin gives the same bytes with the same
matplotlib version and fonts. Chinese labels need a CJK font (Debian: ``fonts-noto-cjk``); when
none is found the plot is labelled in English only.
"""

from __future__ import annotations

import io
import math
import re
import textwrap
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from forecast.aqi import CATEGORIES, CONCENTRATION_BREAKPOINTS, Category, Standard
from forecast.bulletin.model import Bulletin, CityForecast, to_beijing
from forecast.bulletin.texts import LEVEL_COLOURS, action_name, level_name
from forecast.io import write_bytes_atomic

#: Daily PM2.5 thresholds drawn as lines [µg/m³] (the engine's exceedance thresholds).
THRESHOLDS = (75.0, 115.0, 150.0, 250.0)
_CJK_FONTS = (
    "Noto Sans CJK SC",
    "Source Han Sans SC",
    "WenQuanYi Micro Hei",
    "WenQuanYi Zen Hei",
    "Noto Sans CJK JP",
    "Microsoft YaHei",
    "SimHei",
    "PingFang SC",
)


@cache
def cjk_font() -> str | None:
    """The name of an installed font with Chinese glyphs, or ``None``."""
    from matplotlib import font_manager as fm

    def pick() -> str | None:
        names = {f.name for f in fm.fontManager.ttflist}
        return next((n for n in _CJK_FONTS if n in names), None)

    found = pick()
    if found is None:  # fonts installed after matplotlib cached its font list
        for path in fm.findSystemFonts():
            if re.search(r"notosanscjk|sourcehansans|wqy|wenquanyi", Path(path).name, re.I):
                try:
                    fm.fontManager.addfont(path)
                except (OSError, RuntimeError, ValueError):
                    continue
        found = pick()
    return found


def category_bands(standard: Standard) -> list[tuple[Category, float, float]]:
    """(category, low, high) PM2.5 24-h bands [µg/m³] of a standard; the last is open-ended.

    Category I … VI ↔ IAQI 0–50 … > 300 ↔ PM2.5 0–35, 35–60 (2026) or 35–75 (2012), …, > 250.
    """
    bp = [float(x) for x in CONCENTRATION_BREAKPOINTS[standard]["pm25"]]
    edges = [*bp[:6], math.inf]
    return list(zip(CATEGORIES, edges[:-1], edges[1:], strict=True))


def _naive(t: datetime) -> datetime:
    """Beijing wall-clock time without zone (matplotlib then labels Beijing times)."""
    return to_beijing(t).replace(tzinfo=None)


def _nan(values: tuple[float | None, ...]) -> list[float]:
    return [math.nan if v is None else v for v in values]


def _title(b: Bulletin, c: CityForecast, zh: bool) -> str:
    if c.status != "ok":
        status = "无预报 No forecast" if zh else "No forecast"
    elif c.warning is None:
        status = "无预警 No warning" if zh else "No warning"
    else:
        w = c.warning
        status = level_name(w.level, "en")
        if zh:
            status = f"{level_name(w.level, 'zh')} {status}"
        if w.action != "none":
            act = action_name(w.action, "en")
            status += f" ({action_name(w.action, 'zh')} {act})" if zh else f" ({act})"
    name = f"{c.name_zh} {c.name_en}" if zh else c.name_en
    return f"{name} — {status}"


def _draw(fig: Any, b: Bulletin, c: CityForecast, zh: bool) -> None:
    import matplotlib.dates as mdates

    ax = fig.add_axes((0.075, 0.13, 0.745, 0.74))
    issue = _naive(b.issue_time)
    values: list[float] = [160.0]
    start = issue - timedelta(hours=72)
    end = issue + timedelta(days=3)
    if c.observed is not None and c.observed.times:
        ot = [_naive(t) for t in c.observed.times]
        ov = _nan(c.observed.pm25)
        start = min(start, ot[0])
        values += [v for v in ov if not math.isnan(v)]
    if c.hourly is not None:
        ht = [_naive(t) for t in c.hourly.times]
        end = max(end, ht[-1])
        values += [v for v in _nan(c.hourly.p90) if not math.isnan(v)]
    ymax = max(values) * 1.12

    for cat, lo, hi in category_bands(b.aqi_standard):
        if lo < ymax:
            ax.axhspan(lo, min(hi, ymax), color=cat.colour, alpha=0.22, lw=0, zorder=0)
            label = f"{cat.name_zh} " if zh else ""
            ax.text(
                1.005,
                (lo + min(hi, ymax)) / 2,
                f"{label}{cat.name_en}",
                va="center",
                ha="left",
                fontsize=7,
                transform=ax.get_yaxis_transform(),
                clip_on=False,
            )
    for thr in THRESHOLDS:
        if thr < ymax:
            ax.axhline(thr, color="#444444", lw=0.8, ls=(0, (4, 3)), zorder=1)
            ax.text(start, thr, f" {thr:g}", va="bottom", ha="left", fontsize=7, color="#444444")

    if c.observed is not None and c.observed.times:
        ax.plot(
            ot, ov, color="black", lw=1.4, label="观测 observed" if zh else "observed", zorder=4
        )
    if c.hourly is not None:
        ax.fill_between(
            ht,
            _nan(c.hourly.p10),
            _nan(c.hourly.p90),
            color="#1f4e79",
            alpha=0.28,
            lw=0,
            label="p10–p90",
            zorder=2,
        )
        ax.plot(
            ht,
            _nan(c.hourly.p50),
            color="#1f4e79",
            lw=1.8,
            label="预报中位数 forecast p50" if zh else "forecast p50",
            zorder=3,
        )
    for k, d in enumerate(c.daily):
        d0 = datetime(d.date.year, d.date.month, d.date.day)
        ax.hlines(
            d.pm25_p50,
            d0,
            d0 + timedelta(days=1),
            color="#0b2540",
            lw=1.0,
            ls=":",
            zorder=3,
            label=("日均 daily mean" if zh else "daily mean") if k == 0 else None,
        )
        ax.text(
            d0 + timedelta(hours=12),
            ymax * 0.955,
            f"AQI {d.aqi}",
            ha="center",
            va="top",
            fontsize=7.5,
            color="#0b2540",
            bbox={"fc": d.category.colour, "alpha": 0.55, "lw": 0, "pad": 1.2},
        )
    ax.axvline(issue, color="#222222", lw=1.0, zorder=5)
    ax.text(issue, ymax * 0.02, " 发布 issued" if zh else " issued", fontsize=7.5, va="bottom")
    w = c.warning
    if w is not None and w.level != "none" and w.valid_from is not None:
        v0 = _naive(w.valid_from)
        v1 = _naive(w.valid_to) if w.valid_to else end
        ax.axvspan(v0, v1, ymin=0.985, ymax=1.0, color=LEVEL_COLOURS[w.level][0], lw=0, zorder=6)
    if c.status != "ok":
        msg = "\n".join(textwrap.wrap(c.reason or "", 46))
        head = "无预报 No forecast" if zh else "No forecast"
        ax.text(
            0.76,
            0.5,
            f"{head}\n{msg}",
            transform=ax.transAxes,
            ha="center",
            va="center",
            fontsize=9,
            bbox={"fc": "white", "ec": "#888888", "alpha": 0.9},
        )

    ax.set_xlim(start, end)
    ax.set_ylim(0, ymax)
    ax.set_ylabel("PM2.5 [µg/m³]")
    ax.set_xlabel("北京时间 Beijing time" if zh else "Beijing time")
    ax.xaxis.set_major_locator(mdates.DayLocator())
    ax.xaxis.set_minor_locator(mdates.HourLocator(byhour=(6, 12, 18)))
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%m-%d"))
    ax.grid(axis="x", color="#999999", lw=0.4, alpha=0.6)
    ax.legend(loc="upper left", fontsize=7.5, framealpha=0.85, bbox_to_anchor=(0.0, 0.93))
    issued = to_beijing(b.issue_time).strftime("%Y-%m-%d %H:%M")
    fig.suptitle(_title(b, c, zh), fontsize=12.5, fontweight="bold", x=0.08, ha="left", y=0.975)
    fig.text(
        0.08, 0.905, f"{b.id} · {issued} (UTC+8) · {b.aqi_standard}", fontsize=8, color="#444444"
    )


def render_png(
    bulletin: Bulletin,
    city_id: str,
    path: str | Path | None = None,
    *,
    dpi: int = 100,
    size: tuple[float, float] = (10.0, 5.4),
) -> bytes:
    """The PNG plot of one city (bytes); also written atomically to ``path`` when given."""
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    city = bulletin.city(city_id)
    font = cjk_font()
    rc: Any = {  # matplotlib types rc keys as literals
        "font.family": [font, "DejaVu Sans"] if font else ["DejaVu Sans"],
        "axes.unicode_minus": False,
        "svg.hashsalt": "wcs",
        "path.simplify": True,
    }
    with matplotlib.rc_context(rc):
        fig = Figure(figsize=size, dpi=dpi)
        FigureCanvasAgg(fig)
        _draw(fig, bulletin, city, zh=font is not None)
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None})
    data = buf.getvalue()
    if path is not None:
        write_bytes_atomic(path, data)
    return data


def write_pngs(bulletin: Bulletin, out_dir: str | Path) -> list[Path]:
    """``<out_dir>/<id>.<city>.png`` for every city; return the paths."""
    out = Path(out_dir)
    paths = []
    for c in bulletin.cities:
        p = out / f"{bulletin.id}.{c.city_id}.png"
        render_png(bulletin, c.city_id, p)
        paths.append(p)
    return paths
