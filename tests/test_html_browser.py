"""The HTML bulletin in a real headless browser (Chromium): what a reader sees.

Needs a Chromium binary (Debian: ``apt-get install -y chromium fonts-noto-cjk``); skipped
otherwise. Writes /tmp/bulletin_page.png (a screenshot) for a human look.
"""

from __future__ import annotations

import base64
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from forecast.bulletin.examples import example_bulletin
from forecast.bulletin.html import write_html
from forecast.bulletin.model import Bulletin

CHROMIUM = next(
    (p for n in ("chromium", "chromium-browser", "google-chrome") if (p := shutil.which(n))), None
)
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="no chromium binary on PATH (Debian: apt-get install -y chromium fonts-noto-cjk)",
)
REVIEW_SCREENSHOT = Path("/tmp/bulletin_page.png")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
]
# Test-only probe (the bulletin page itself has no JavaScript): after the load event, record
# for every <img> whether it decoded and its natural size.
PROBE = (
    '<script>window.addEventListener("load",()=>{document.body.setAttribute("data-images",'
    'Array.from(document.images).map(i=>i.complete+":"+i.naturalWidth+"x"+i.naturalHeight)'
    '.join(" "));});</script>'
)


def _chromium(page: Path, profile: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    return subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *extra, page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )


class _Visible(HTMLParser):
    """Text a reader sees (outside <style>/<script>/<title>), and the <img> attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.text: list[str] = []
        self.images: list[dict[str, str | None]] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("style", "script", "title", "head"):
            self._skip += 1
        if tag == "img":
            self.images.append(dict(attrs))

    def handle_endtag(self, tag: str) -> None:
        if tag in ("style", "script", "title", "head"):
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.text.append(data)


@pytest.fixture(scope="module")
def bulletin() -> Bulletin:
    return example_bulletin()


@pytest.fixture(scope="module")
def page(bulletin: Bulletin, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_html(bulletin, tmp_path_factory.mktemp("html") / "bulletin.html")


def test_dom_shows_every_city_level_and_the_regional_warning(
    bulletin: Bulletin, page: Path, tmp_path: Path
) -> None:
    dom = _chromium(page, tmp_path / "profile", "--dump-dom").stdout
    assert "<script" not in page.read_text(encoding="utf-8").lower()  # no JavaScript needed
    parser = _Visible()
    parser.feed(dom)
    text = " ".join(" ".join(parser.text).split())
    for c in bulletin.cities:
        assert c.name_zh in text and c.name_en in text
    for words in ("红色预警 Red warning", "橙色预警 Orange warning", "无预警 No warning",
                  "无预报 No forecast", "升级 upgraded", "发布 issued"):  # fmt: skip
        assert words in text, words
    assert "区域预警 Regional warning — 乌昌石区域 Wu-Chang-Shi region" in text
    assert "stations 2711A and 3441A" in text  # the no-forecast reason
    assert bulletin.id in text and "2025-01-15 10:00（北京时间）" in text
    assert "observations" in text and "degraded" in text  # input status
    assert len(parser.images) == 4
    for img in parser.images:
        src = img["src"] or ""
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1]).startswith(b"\x89PNG")


def test_images_decode_in_the_browser(page: Path, tmp_path: Path) -> None:
    probe = tmp_path / "probe.html"
    probe.write_text(
        page.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"), encoding="utf-8"
    )
    dom = _chromium(probe, tmp_path / "profile", "--dump-dom").stdout
    start = dom.index('data-images="') + len('data-images="')
    states = dom[start : dom.index('"', start)].split()
    assert states == ["true:1000x540"] * 4


def test_screenshot_is_not_blank(page: Path, tmp_path: Path) -> None:
    from matplotlib import image

    shot = tmp_path / "shot.png"
    _chromium(page, tmp_path / "profile", f"--screenshot={shot}", "--window-size=1200,2000")
    shutil.copyfile(shot, REVIEW_SCREENSHOT)
    img = np.round(image.imread(shot)[..., :3] * 255).astype(np.uint8)
    assert img.shape[:2] == (2000, 1200)
    assert img.std() > 20 and len(np.unique(img.reshape(-1, 3), axis=0)) > 1000

    def count(colour: str) -> int:
        rgb = np.array([int(colour[i : i + 2], 16) for i in (1, 3, 5)], dtype=np.uint8)
        return int(np.all(img == rgb, axis=-1).sum())

    assert count("#FF7E00") > 50_000  # the orange regional warning box
    assert count("#D50000") > 20_000  # the red header of Urumqi's card
    assert count("#1F4E79") > 300  # the forecast line inside the embedded plot
