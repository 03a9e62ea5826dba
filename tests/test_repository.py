"""The repository keeps its promises: README commands, CI script, layout."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return re.findall(r"```bash\n(.+?)\n```", text, flags=re.S)[:2]


def test_readme_starts_with_two_commands() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    first_block = text.index("```bash")
    assert "\n## " not in text[:first_block], "the commands come before any section"
    install_and_run, install_and_test = _readme_commands()
    assert "pip install -e ." in install_and_run and "wcs-forecast demo" in install_and_run
    assert 'pip install -e ".[test,grib]"' in install_and_test
    assert install_and_test.endswith("pytest")


def test_ci_runs_the_readme_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert _readme_commands()[1] in ci.splitlines()


def test_layout() -> None:
    for name in ("forecast", "models", "features", "notebooks", "tests", "benchmarks"):
        assert (ROOT / name).is_dir(), name
    for name in ("config.yaml", "pyproject.toml", "README.md", ".pre-commit-config.yaml"):
        assert (ROOT / name).is_file(), name


def test_no_pickles_or_urumqi_zone_in_the_engine() -> None:
    for path in (ROOT / "forecast").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert "import pickle" not in text, path
        assert "yaml.load(" not in text, path
    zone_uses = [
        p
        for p in (ROOT / "forecast").rglob("*.py")
        if "Asia/Urumqi" in p.read_text(encoding="utf-8") and p.name != "timeutil.py"
    ]
    assert zone_uses == [], "Asia/Urumqi may only appear in timeutil's list of forbidden zones"
