"""The hindcast on the embedded real daily data (no ../shared needed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from forecast.bulletin.json_io import validate_bulletin
from forecast.cli import main


def test_hindcast_writes_a_bulletin_per_day_and_scores_side_by_side(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "hc"
    assert main(["hindcast", "--from", "2016-01-01", "--to", "2016-01-10", "--out", str(out)]) == 0
    captured = capsys.readouterr()
    text = captured.out
    assert "RMSE model" in text and "persist." in text and "perfect-prog" in text
    # Progress on stderr (not a terminal here): one line per issued bulletin, counted.
    steps = [line for line in captured.err.splitlines() if line.startswith("  … bulletins ")]
    assert [line.split()[2] for line in steps] == [f"{i}/10" for i in range(1, 11)]
    assert "issued 2016-01-02 10:00" in steps[0] and "issued 2016-01-11 10:00" in steps[-1]
    bulletins = sorted((out / "archive").rglob("*.json"))
    assert len(bulletins) == 10  # one per day, no revisions
    doc = validate_bulletin(bulletins[0])
    assert {c["city_id"] for c in doc["cities"]} == {"urumqi", "changji", "shihezi", "wujiaqu"}
    assert "perfect-prog" in json.dumps(doc["input_status"])
    summary = json.loads((out / "verification.json").read_text(encoding="utf-8"))
    lead1 = summary["cities"]["urumqi"]["leads"]["1"]
    assert lead1["model"]["n"] == lead1["persistence"]["n"] == 10
    assert summary["cities"]["urumqi"]["actions"]

    # Verify the archived bulletins against the embedded observations (the training data).
    from importlib import resources

    config_file = resources.files("forecast") / "data" / "daily" / "wuchangshi_daily.yaml"
    with resources.as_file(config_file) as path:
        code = main(["verify", "--config", str(path), "--archive", str(out / "archive")])
    assert code == 0
    text = capsys.readouterr().out
    assert "verification of 10 bulletin(s)" in text and "warning level hit rate" in text
    scores = json.loads((out / "archive" / "verification.json").read_text(encoding="utf-8"))
    urumqi = scores["cities"]["urumqi"]
    assert urumqi["leads"]["1"]["n"] == 10
    assert 0.0 <= urumqi["leads"]["1"]["category_accuracy"] <= 1.0
