"""Text, PNG and HTML renderings of a bulletin (the HTML in a browser: test_html_browser.py)."""

from __future__ import annotations

import base64
import io
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from forecast.bulletin.examples import example_bulletin
from forecast.bulletin.html import render_html, write_html
from forecast.bulletin.model import Bulletin, LocalText
from forecast.bulletin.outputs import write_outputs
from forecast.bulletin.png import category_bands, cjk_font, render_png
from forecast.bulletin.text import display_width, render_text

REVIEW_PNG = Path("/tmp/bulletin_urumqi.png")


@pytest.fixture(scope="module")
def bulletin() -> Bulletin:
    return example_bulletin()


@pytest.fixture(scope="module")
def urumqi_png(bulletin: Bulletin) -> bytes:
    return render_png(bulletin, "urumqi")


def _rgb(png: bytes) -> np.ndarray:
    from matplotlib import image

    img = image.imread(io.BytesIO(png), format="png")
    return np.round(img[..., :3] * 255).astype(np.uint8)


def _count(img: np.ndarray, colour: str) -> int:
    rgb = [int(colour[i : i + 2], 16) for i in (1, 3, 5)]
    return int(np.all(img == np.array(rgb, dtype=np.uint8), axis=-1).sum())


# ------------------------------------------------------------------------------------- text


def test_text_has_both_languages_and_every_city(bulletin: Bulletin) -> None:
    text = render_text(bulletin)
    zh, en = text.split("-" * 72)
    for c in bulletin.cities:
        assert c.name_zh in zh and c.name_en in en
    assert "红色预警" in zh and "升级" in zh and "橙色预警" in zh and "无预警" in zh
    assert "Red warning" in en and "upgraded" in en and "Orange warning" in en
    assert "No forecast" in en and "无预报" in zh
    assert "区域预警" in zh and "Regional warning: Wu-Chang-Shi region — Orange warning" in en
    assert "2025-01-17  368  严重污染" in zh  # date, AQI, category in one row
    assert "沙尘提示" in zh or "沙尘天气" in zh  # the dust advice (Shihezi dust day)
    assert "Dust days" in en
    assert "2025-01-15 10:00（北京时间）" in zh and "2025-01-15 10:00 Beijing time" in en
    assert bulletin.id in zh and bulletin.id in en
    assert "stations 2711A and 3441A" in en  # the no-forecast reason
    assert not any(line != line.rstrip() for line in text.splitlines())


def test_text_table_columns_align() -> None:
    text = render_text(example_bulletin(), languages=("zh",))
    rows = [ln for ln in text.splitlines() if re.match(r"^  \S.*  2025-01-1[5-9]", ln)]
    assert rows, "table rows"
    starts = {display_width(ln[: ln.index("2025-")]) for ln in rows}
    assert len(starts) == 1, "the date column starts at the same display column in each row"
    with pytest.raises(ValueError, match="fr"):
        render_text(example_bulletin(), languages=("fr",))


# -------------------------------------------------------------------------------------- PNG


def test_png_written_deterministic_and_plausible(
    bulletin: Bulletin, urumqi_png: bytes, tmp_path: Path
) -> None:
    assert urumqi_png.startswith(b"\x89PNG\r\n\x1a\n")
    assert len(urumqi_png) > 30_000
    assert b"Software" not in urumqi_png  # no version string: reproducible bytes
    assert render_png(example_bulletin(), "urumqi") == urumqi_png
    written = render_png(bulletin, "urumqi", tmp_path / "u.png")
    assert written == urumqi_png and (tmp_path / "u.png").read_bytes() == urumqi_png
    assert [p.name for p in tmp_path.iterdir()] == ["u.png"]
    REVIEW_PNG.write_bytes(urumqi_png)  # for a human look

    img = _rgb(urumqi_png)
    assert img.shape == (540, 1000, 3)
    assert len(np.unique(img.reshape(-1, 3), axis=0)) > 500  # not blank
    assert _count(img, "#D50000") > 500  # red validity bar of the red warning
    assert _count(img, "#1F4E79") > 300  # forecast median line
    assert _count(img, "#000000") > 200  # observed history


def test_png_without_forecast_has_no_forecast_line(bulletin: Bulletin) -> None:
    img = _rgb(render_png(bulletin, "wujiaqu"))
    assert _count(img, "#1F4E79") < 20
    assert _count(img, "#000000") > 100  # observed history before the data loss
    changji = _rgb(render_png(bulletin, "changji"))
    assert _count(changji, "#FF7E00") > 500 and _count(changji, "#D50000") == 0  # orange bar


def test_png_title_language_and_standard(bulletin: Bulletin, urumqi_png: bytes) -> None:
    assert cjk_font() is not None or pytest.skip("no CJK font installed (fonts-noto-cjk)")
    other = render_png(replace(bulletin, aqi_standard="HJ633-2012"), "urumqi")
    assert other != urumqi_png  # bands follow the standard
    b26 = [(c.level, lo, hi) for c, lo, hi in category_bands("HJ633-2026")]
    b12 = [(c.level, lo, hi) for c, lo, hi in category_bands("HJ633-2012")]
    assert b26[:3] == [("I", 0, 35), ("II", 35, 60), ("III", 60, 115)]
    assert b12[1:3] == [("II", 35, 75), ("III", 75, 115)]
    assert b26[-1][1:] == (250, np.inf)


# ------------------------------------------------------------------------------------- HTML


def test_html_is_self_contained_and_escaped(bulletin: Bulletin, urumqi_png: bytes) -> None:
    evil = replace(bulletin, headline=LocalText("<script>alert(1)</script>", "A & B <b>"))
    page = render_html(evil, images={"urumqi": urumqi_png})
    assert "<script" not in page.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "A &amp; B &lt;b&gt;" in page
    assert "http://" not in page and "https://" not in page  # nothing to fetch
    srcs = re.findall(r'<img [^>]*src="([^"]+)"', page)
    assert len(srcs) == 1 and srcs[0].startswith("data:image/png;base64,")
    assert base64.b64decode(srcs[0].split(",", 1)[1]) == urumqi_png


def test_html_contents(bulletin: Bulletin, tmp_path: Path) -> None:
    path = write_html(bulletin, tmp_path / "b.html")
    page = path.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and 'lang="zh-CN"' in page
    assert page.count('class="card"') == 4
    assert page.count("data:image/png;base64,") == 4
    for c in bulletin.cities:
        assert f'id="city-{c.city_id}"' in page and c.name_zh in page and c.name_en in page
    assert 'data-level="red"' in page and 'data-action="upgrade"' in page
    assert "区域预警 Regional warning" in page and bulletin.id in page
    assert "models" in page and "lgbm-quantile-2025.01.2" in page  # input status, versions
    assert [p.name for p in tmp_path.iterdir()] == ["b.html"]


def test_write_outputs_all_formats(bulletin: Bulletin, tmp_path: Path) -> None:
    paths = write_outputs(bulletin, tmp_path)
    names = sorted(p.name for p in paths)
    assert names == sorted(p.name for p in tmp_path.iterdir())
    stem = bulletin.id
    assert f"{stem}.json" in names and f"{stem}.txt" in names and f"{stem}.html" in names
    assert f"{stem}.region.cap.xml" in names and f"{stem}.wujiaqu.png" in names
    assert len(names) == 1 + 3 + 1 + 1 + 4
    with pytest.raises(ValueError, match="pdf"):
        write_outputs(bulletin, tmp_path, ["pdf"])
