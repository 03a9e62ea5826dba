"""`wcs-forecast met import` and `wcs-forecast merge` on the real boundary-layer grids."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import numpy as np
import pytest

from forecast.cli import main
from forecast.obs.dataset import read_netcdf


def test_met_import_and_merge_with_station_observations(
    tmp_path: Path, config_path: Path, shared_data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    raw = shared_data / "grids" / "pbl2020_raw_3h"
    met_path = tmp_path / "met.nc"
    assert (
        main(["met", "import", str(raw), "--out", str(met_path), "--config", str(config_path)]) == 0
    )
    out = capsys.readouterr().out
    assert "read 16 file(s)" in out
    assert "[ok] coverage: 21 site(s)" in out
    assert "interpolated to 21 sites (bilinear)" in out
    met = read_netcdf(met_path)
    assert met["blh"].attrs["units"] == "m"
    assert met.attrs["time_resolution"] == "3h"
    assert met["city"].sel(site="1490A").item() == "urumqi"
    assert np.isfinite(met["blh"]).all()

    # Observations and grid overlap: a tidy file at 2020-01-01 08:00 Beijing time = 00:00 UTC.
    tidy = tmp_path / "obs.csv"
    tidy.write_text(
        "site,time,pm25\n1490A,2020-01-01T08:00:00,200\n1490A,2020-01-01T09:00:00,210\n",
        encoding="utf-8",
    )
    obs_path = tmp_path / "obs.nc"
    assert (
        main(
            [
                "obs",
                "import",
                str(tidy),
                "--format",
                "tidy",
                "--out",
                str(obs_path),
                "--config",
                str(config_path),
            ]
        )
        == 0
    )
    merged_path = tmp_path / "merged.nc"
    assert (
        main(["merge", "--obs", str(obs_path), "--met", str(met_path), "--out", str(merged_path)])
        == 0
    )
    merged = read_netcdf(merged_path)
    at_00utc = merged["blh"].sel(site="1490A").isel(time=0).item()
    assert at_00utc == pytest.approx(met["blh"].sel(site="1490A").isel(time=0).item())


def test_met_import_of_a_station_file_is_a_clear_error(
    tmp_path: Path, config_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    demo = resources.files("forecast") / "data" / "demo" / "station_hourly_2020-04"
    with resources.as_file(demo) as folder:
        code = main(
            [
                "met",
                "import",
                str(folder / "石河子.csv"),
                "--out",
                str(tmp_path / "m.nc"),
                "--config",
                str(config_path),
            ]
        )
    err = capsys.readouterr().err
    assert code == 3
    assert "石河子.csv" in err
    assert "Traceback" not in err
    assert not (tmp_path / "m.nc").exists()
