"""The command line on the embedded data: demo, obs import and obs cities end to end."""

from __future__ import annotations

import subprocess
import sys
from importlib import resources
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from helpers import ROOT

from forecast.cli import main
from forecast.obs.dataset import read_netcdf

DEMO = resources.files("forecast") / "data" / "demo" / "station_hourly_2020-04"


def test_obs_import_then_cities(
    tmp_path: Path, config_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    obs = tmp_path / "obs.nc"
    with resources.as_file(DEMO) as folder:
        code = main(
            [
                "obs",
                "import",
                str(folder / "石河子.csv"),
                "--format",
                "station-hourly",
                "--out",
                str(obs),
                "--config",
                str(config_path),
                "--report",
                str(tmp_path / "qc.csv"),
            ]
        )
    assert code == 0
    out = capsys.readouterr().out
    assert "2709A" in out and "艾青诗歌馆" in out
    ds = read_netcdf(obs)
    assert sorted(ds["site"].values) == ["2709A", "2710A", "3442A"]
    assert ds.attrs["source_time_zone"] == "Asia/Shanghai"
    # 2020-04-02 08:00 Beijing time is 00:00 UTC; 艾青诗歌馆 reported PM2.5 = 23 that hour.
    assert ds["pm25"].sel(site="2709A", time=np.datetime64("2020-04-02T00:00")).item() == 23.0

    hourly = tmp_path / "cities.nc"
    assert (
        main(
            [
                "obs",
                "cities",
                str(obs),
                "--out",
                str(hourly),
                "--method",
                "hourly",
                "--config",
                str(config_path),
            ]
        )
        == 0
    )
    city = read_netcdf(hourly)
    expected = ds["pm25"].sel(site=["2709A", "2710A", "3442A"]).mean("site")
    xr.testing.assert_allclose(
        city["pm25"].sel(site="shihezi", drop=True),
        expected.drop_vars([c for c in expected.coords if c != "time"]),
    )


def test_python_dash_m_runs_the_cli() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "forecast", "--help"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0
    assert "obs" in done.stdout and "config" in done.stdout


def test_unknown_format_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["obs", "import", "x.csv", "--format", "excel", "--out", "y.nc"])
    assert exit_.value.code == 2
    assert "invalid choice: 'excel'" in capsys.readouterr().err


def test_demo_command_reaches_the_demo_with_the_repository_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The README's first command, up to the (session-tested) run_demo: arguments and config."""
    import forecast.demo

    seen: dict[str, object] = {}

    def fake_run_demo(out: Path, base: object, *, days: int) -> object:
        seen.update(out=Path(out), base=base, days=days)

        class Result:
            status = 0

        return Result()

    monkeypatch.setattr(forecast.demo, "run_demo", fake_run_demo)
    monkeypatch.chdir(ROOT)
    assert main(["demo", "--out", str(tmp_path / "d")]) == 0
    assert seen["out"] == tmp_path / "d"
    assert [c.id for c in seen["base"].cities] == ["urumqi", "changji", "shihezi", "wujiaqu"]  # type: ignore[attr-defined]
    assert isinstance(seen["days"], int) and seen["days"] > 0
