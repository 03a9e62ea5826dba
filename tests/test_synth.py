"""The synthetic Wu-Chang-Shi generator (forecast.synth): reproducibility, chunking, formats,
faults, physics and forecast cycles.

Expected values are computed here from the written files (pandas, xarray), not with the
generator's own code. The whole module runs in well under a minute.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from forecast.config import load_config
from forecast.errors import ConfigError
from forecast.met.variables import MET_VARIABLES
from forecast.obs.dataset import import_observations, read_netcdf
from forecast.synth import generate
from forecast.synth.cli import add_synth_parser
from forecast.timeutil import beijing_to_utc, utc_to_beijing

NOW = pd.Timestamp("2100-01-01")
MET = ("blh", "u10", "v10", "t2m", "d2m", "t850", "rh2m", "sp", "tp")
URUMQI = {"lon": 87.6, "lat": 43.8}


def _hashes(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _manifest(folder: Path) -> dict[str, Any]:
    return json.loads((folder / "manifest.json").read_text(encoding="utf-8"))


def _read_obs(folder: Path) -> pd.DataFrame:
    """Every hourly CSV of ``folder/obs`` as one table (Beijing timepoints)."""
    files = sorted((folder / "obs").glob("*.csv"))
    table = pd.concat(
        [pd.read_csv(f, dtype={"stationcode": str}) for f in files], ignore_index=True
    )
    table["timepoint"] = pd.to_datetime(table["timepoint"])
    return table


def _urumqi_hourly(folder: Path) -> pd.Series:
    """Urumqi PM2.5: hourly mean of the non-reference stations, indexed by UTC time."""
    config = load_config(folder / "config.yaml")
    codes = [s.code for s in config.stations_of("urumqi") if not s.reference_site]
    obs = _read_obs(folder)
    obs = obs[obs["stationcode"].isin(codes)]
    hourly = obs.groupby("timepoint")["pm2_5"].mean()
    hourly.index = beijing_to_utc(hourly.index)
    return hourly


# --------------------------------------------------------------------------------------------
# fixtures: one 60-day winter and one short run, generated once per module


@pytest.fixture(scope="module")
def winter(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("synth") / "winter"
    generate(
        out,
        seed=0,
        start="2021-12-01",
        days=60,
        cycle_days=["2021-12-20", "2022-01-27", "2022-01-28", "2022-01-29"],
    )
    return out


@pytest.fixture(scope="module")
def short(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("synth") / "short"
    generate(out, seed=5, start="2022-01-10", days=6)
    return out


# --------------------------------------------------------------------------------------------
# reproducibility and chunking


def test_same_seed_gives_identical_bytes_and_another_seed_differs(
    short: Path, tmp_path: Path
) -> None:
    again = tmp_path / "again"
    generate(again, seed=5, start="2022-01-10", days=6)
    first, second = _hashes(short), _hashes(again)
    assert sum(k.startswith("obs/") for k in first) == 6 * 24
    assert sum(k.startswith("nwp/") for k in first) >= 2
    assert first == second

    other = tmp_path / "other"
    generate(other, seed=6, start="2022-01-10", days=6)
    third = _hashes(other)
    data_files = [k for k in first if k.startswith(("analysis/", "obs/", "nwp/"))]
    same = [k for k in data_files if third.get(k) == first[k]]
    assert data_files and same == []


def test_result_does_not_depend_on_chunk_size(tmp_path: Path) -> None:
    # Four days across a month boundary: the monthly grid files span two chunks.
    a, b = tmp_path / "a", tmp_path / "b"
    # Also the 0.25° grid option.
    generate(a, seed=2, start="2022-01-30", days=4, chunk_days=1, grid_step=0.25)
    generate(b, seed=2, start="2022-01-30", days=4, chunk_days=40, grid_step=0.25)
    assert _hashes(a) == _hashes(b)
    assert {"analysis/met_202201.nc", "analysis/met_202202.nc"} <= set(_hashes(a))
    grid = xr.open_dataset(a / "analysis" / "met_202202.nc")
    assert grid.sizes == {"time": 48, "lat": 33, "lon": 61}


def test_synthetic_stations_leave_the_real_stations_unchanged(tmp_path: Path) -> None:
    small, large = tmp_path / "n21", tmp_path / "n45"
    generate(small, seed=1, start="2022-01-03", days=2)
    generate(large, seed=1, start="2022-01-03", days=2, n_stations=45)
    config = load_config(large / "config.yaml")
    assert len(config.stations) == 45
    synthetic = [s for s in config.stations if s.code.startswith("9")]
    assert [s.code for s in synthetic[:2]] == ["9001A", "9002A"] and len(synthetic) == 24
    assert {s.city for s in synthetic} == {"urumqi", "changji", "shihezi", "wujiaqu"}
    assert all(abs(s.lon - 87) < 2 and abs(s.lat - 44) < 1 for s in synthetic)
    a, b = _read_obs(small), _read_obs(large)
    b = b[~b["stationcode"].str.startswith("9")]
    pd.testing.assert_frame_equal(
        a.reset_index(drop=True), b.reset_index(drop=True), check_dtype=False
    )
    ga = xr.open_dataset(small / "analysis" / "met_202201.nc")
    gb = xr.open_dataset(large / "analysis" / "met_202201.nc")
    xr.testing.assert_identical(ga.load(), gb.load())


# --------------------------------------------------------------------------------------------
# observations: import, QC report, release columns, netCDF format


def test_obs_import_and_qc_report_show_the_injected_faults(short: Path) -> None:
    manifest = _manifest(short)
    config = load_config(short / "config.yaml")
    result = import_observations([short / "obs"], "cnemc-hourly", config, now=NOW)
    ds, report = result.dataset, result.report
    assert ds.sizes == {"site": 21, "time": 6 * 24}
    # Beijing 2022-01-10 00:00 is 2022-01-09 16:00 UTC.
    assert pd.Timestamp(ds["time"].values[0]) == pd.Timestamp("2022-01-09 16:00")
    faults = manifest["faults"]
    stuck = faults["stuck_sensor"]["station"]
    assert report.loc[stuck, "pm25_stuck"] >= faults["stuck_sensor"]["hours"]
    assert (report.drop(index=stuck)["pm25_stuck"] == 0).all()
    outage = faults["outage"]
    assert report.loc[outage["station"], "pm25_missing"] >= outage["hours"]
    by_station = faults["missing_hours"]["by_station"]
    assert report["pm25_missing"].sum() == faults["missing_hours"]["total"] > outage["hours"]
    for code, n in by_station.items():
        assert report.loc[code, "pm25_missing"] == n
    listed = pd.read_csv(short / faults["missing_hours"]["file"])
    assert len(listed) == faults["missing_hours"]["total"]


def test_release_columns_are_consistent(short: Path) -> None:
    obs = _read_obs(short)
    header = (short / "obs" / "2022-01-12T08.csv").read_text(encoding="utf-8").splitlines()[0]
    assert header.startswith("timepoint,stationcode,longitude,latitude,area,positionname")
    assert obs["pm2_5"].notna().all() and (obs["pm2_5"] % 1 == 0).all()
    assert (obs["co"].dropna() * 10 % 1).abs().max() < 1e-6  # one decimal
    o3 = obs.dropna(subset=["o3"])
    assert (o3["o3_24h"] >= o3["o3"]).all()  # not the archive's swap
    assert obs["o3"].isna().sum() < 0.01 * len(obs)  # a few empty cells
    assert (obs["pm10"] >= obs["pm2_5"]).mean() > 0.95
    from forecast.aqi import aqi

    expected = aqi(obs["pm2_5_24h"].to_numpy(float), obs["pm10_24h"].to_numpy(float))
    assert np.array_equal(obs["aqi"].to_numpy(float), expected)
    primary = obs["primarypollutant"].fillna("")
    assert set(primary[obs["aqi"] > 50]) <= {"细颗粒物(PM2.5)", "颗粒物(PM10)"}
    assert (primary[obs["aqi"] <= 50] == "").all()
    # 24-h mean of the published hourly values (missing hours skipped).
    st = obs[obs["stationcode"] == "1491A"].set_index("timepoint")["pm2_5"]
    st = st.reindex(pd.date_range(st.index[0], st.index[-1], freq="h"))
    trailing = st.rolling(24, min_periods=1).mean().round()
    got = obs[obs["stationcode"] == "1491A"].set_index("timepoint")["pm2_5_24h"]
    late = got.index[got.index >= st.index[0] + pd.Timedelta(hours=24)]
    assert np.array_equal(trailing[late].to_numpy(), got[late].to_numpy())


def test_netcdf_observations_equal_the_imported_hourly_files(tmp_path: Path) -> None:
    csv, nc = tmp_path / "csv", tmp_path / "nc"
    generate(csv, seed=4, start="2022-02-10", days=3, n_stations=30)
    generate(nc, seed=4, start="2022-02-10", days=3, n_stations=30, obs_format="netcdf")
    files = sorted((nc / "obs").glob("*.nc"))
    assert [f.name for f in files] == ["obs_202202.nc"]
    stored = read_netcdf(files[0])
    config = load_config(nc / "config.yaml")
    imported = import_observations([csv / "obs"], "cnemc-hourly", config, now=NOW).dataset
    assert stored.sizes == imported.sizes == {"site": 30, "time": 72}
    assert stored.attrs["time_zone"] == "UTC" and stored.attrs["time_resolution"] == "1h"
    for v in ("pm25", "pm10", "so2", "no2", "co", "o3", "o3_8h", "aqi", "pm25_qc"):
        np.testing.assert_array_equal(stored[v].values, imported[v].values, err_msg=v)
    np.testing.assert_array_equal(stored["time"].values, imported["time"].values)


# --------------------------------------------------------------------------------------------
# grids and physics


def test_analysis_grids_follow_the_conventions(winter: Path) -> None:
    paths = sorted((winter / "analysis").glob("met_*.nc"))
    assert [p.name for p in paths] == ["met_202112.nc", "met_202201.nc"]
    ds = xr.open_mfdataset(paths, engine="netcdf4").load()
    assert ds.attrs["Conventions"] == "CF-1.8" and "history" not in ds.attrs
    assert set(ds.data_vars) == set(MET)
    for name in MET:
        assert ds[name].dims == ("time", "lat", "lon")
        assert ds[name].attrs["units"] == MET_VARIABLES[name].units
        assert ds[name].attrs["standard_name"] == MET_VARIABLES[name].standard_name
        assert ds[name].encoding["dtype"] == np.float32 and ds[name].encoding["zlib"]
        meta = MET_VARIABLES[name]
        assert float(ds[name].min()) >= meta.valid_min and float(ds[name].max()) <= meta.valid_max
    assert np.all(np.diff(ds["lat"].values) > 0)
    assert ds["lat"].values[[0, -1]].tolist() == [40.0, 48.0]
    assert ds["lon"].values[[0, -1]].tolist() == [80.0, 95.0] and ds.sizes["lon"] == 31
    times = pd.DatetimeIndex(ds["time"].values)
    assert times[0] == pd.Timestamp("2021-12-01 00:00") and len(times) == 60 * 24
    assert (np.diff(times.values) == np.timedelta64(1, "h")).all()
    # The obs file named 2021-12-01T08 (Beijing time) is grid time 2021-12-01T00 UTC.
    label = pd.Timestamp("2021-12-01T08:00")
    assert (winter / "obs" / f"{label:%Y-%m-%dT%H}.csv").is_file()
    assert beijing_to_utc(pd.DatetimeIndex([label]))[0] == times[0]
    assert bool((ds["d2m"] <= ds["t2m"]).all())
    at = ds.interp(**URUMQI)
    assert 900.0 < float(at["sp"].mean()) < 950.0
    assert -20.0 < float(at["t2m"].mean()) - 273.15 < -5.0


def test_winter_physics_at_urumqi(winter: Path) -> None:
    manifest = _manifest(winter)
    pm = _urumqi_hourly(winter)
    grid = xr.open_mfdataset(sorted((winter / "analysis").glob("met_*.nc"))).interp(**URUMQI)
    met = grid.to_dataframe()[["blh", "u10", "v10", "t2m", "t850", "tp"]]
    pm = pm[pm.index.isin(met.index)]  # obs start 8 h before the grids (Beijing 00:00)
    assert len(pm) == 60 * 24 - 8
    met = met.reindex(pm.index)
    met["wind"] = np.hypot(met["u10"], met["v10"])
    met["inversion"] = met["t850"] - met["t2m"]
    assert met.notna().all().all()
    # PM2.5 falls with deeper boundary layers and stronger winds.
    assert pm.corr(np.log(met["blh"]), method="spearman") < -0.4
    assert pm.corr(met["wind"], method="spearman") < -0.3
    # Heavy episodes: daily means by Beijing day from the published hourly values.
    local = pm.copy()
    local.index = utc_to_beijing(local.index)
    daily = local.resample("D").mean()
    assert daily.max() > 250.0
    assert 10 <= (daily > 150).sum() <= 50
    assert (daily < 35).sum() >= 2  # clean days after fronts
    assert manifest["summary"]["urumqi"]["severe_days_gt250"] >= 1
    # Warm air aloft on stagnant days (weak wind, shallow boundary layer).
    day = met.resample("D").mean()
    stagnant = day[(day["wind"] < 2.0) & (day["blh"] < 300.0)]
    assert len(stagnant) >= 15
    assert (stagnant["inversion"] > 0).mean() > 0.9
    assert stagnant["inversion"].max() > 6.0
    # Fronts: PM2.5 and t850 drop after strong fronts, wind picks up.
    drops, cooling, gusts = [], [], []
    for front in manifest["fronts"]:
        t = pd.Timestamp(front["passage_urumqi_utc"]).tz_localize(None)
        if (
            front["strength"] < 0.9
            or t - pd.Timedelta(hours=12) < pm.index[0]
            or (t + pd.Timedelta(hours=30) > pm.index[-1])
        ):
            continue
        before = pm[t - pd.Timedelta(hours=12) : t].mean()
        after = pm[t + pd.Timedelta(hours=12) : t + pd.Timedelta(hours=30)].mean()
        drops.append(after / before)
        cooling.append(
            met["t850"][t + pd.Timedelta(hours=18)] - met["t850"][t - pd.Timedelta(hours=6)]
        )
        gusts.append(met["wind"][t - pd.Timedelta(hours=2) : t + pd.Timedelta(hours=6)].max())
    assert len(drops) >= 3
    assert np.median(drops) < 0.5 and np.median(cooling) < -2.0 and np.median(gusts) > 5.0


def test_manifest_episodes_match_the_observations(winter: Path) -> None:
    manifest = _manifest(winter)
    config = load_config(winter / "config.yaml")
    obs = _read_obs(winter)
    obs["day"] = obs["timepoint"].dt.normalize()
    counts = obs.groupby(["stationcode", "day"])["pm2_5"].agg(["mean", "count"])
    valid = counts[counts["count"] >= 20]["mean"].unstack("stationcode")
    codes = [s.code for s in config.stations_of("urumqi") if not s.reference_site]
    city = valid[[c for c in codes if c in valid.columns]].mean(axis=1)
    recorded = pd.Series(
        manifest["city_daily_pm25"]["urumqi"],
        index=pd.to_datetime(manifest["city_daily_pm25"]["days"]),
        dtype=float,
    )
    assert len(recorded) == 60
    np.testing.assert_allclose(
        recorded.to_numpy(), city.reindex(recorded.index).to_numpy(), atol=0.06
    )
    episodes = manifest["episodes"]["by_city"]["urumqi"]
    assert episodes and all(ep["peak_pm25"] > 150 for ep in episodes)
    heavy = int((city > 150).sum())
    assert sum(ep["days"] for ep in episodes) == heavy


def test_plot_pm25_against_boundary_layer_height(winter: Path, tmp_path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pm = _urumqi_hourly(winter)
    grid = xr.open_mfdataset(sorted((winter / "analysis").glob("met_*.nc"))).interp(**URUMQI)
    blh = grid["blh"].to_series().reindex(pm.index)
    fig, (ax, sc) = plt.subplots(1, 2, figsize=(14, 4.5), width_ratios=[3, 1])
    ax.plot(
        utc_to_beijing(pm.index),
        pm.to_numpy(),
        color="#7E0023",
        lw=0.8,
        label="PM2.5 (Urumqi, non-reference stations)",
    )
    ax.axhline(150, color="grey", ls=":", lw=0.8)
    ax.set_ylabel("PM2.5 [µg/m³]")
    ax.set_xlabel("Beijing time")
    twin = ax.twinx()
    twin.plot(
        utc_to_beijing(blh.index),
        blh.to_numpy(),
        color="#1f77b4",
        lw=0.6,
        alpha=0.7,
        label="boundary-layer height",
    )
    twin.set_yscale("log")
    twin.set_ylabel("BLH [m]")
    ax.set_title("Synthetic winter 2021-12 – 2022-01, seed 0")
    sc.scatter(blh.to_numpy(), pm.to_numpy(), s=2, alpha=0.3, color="#7E0023")
    sc.set_xscale("log")
    sc.set_xlabel("BLH [m]")
    sc.set_ylabel("PM2.5 [µg/m³]")
    fig.tight_layout()
    targets = [tmp_path / "synth_pm25_blh.png"]
    if os.environ.get("WCS_TEST_ARTIFACTS"):
        folder = Path(os.environ["WCS_TEST_ARTIFACTS"])
        folder.mkdir(parents=True, exist_ok=True)
        targets.append(folder / "synth_pm25_blh.png")
    for target in targets:
        fig.savefig(target, dpi=90)
    plt.close(fig)
    for target in targets:
        assert target.stat().st_size > 20_000


# --------------------------------------------------------------------------------------------
# forecast cycles


def test_forecast_cycles_have_leads_and_growing_errors(winter: Path) -> None:
    manifest = _manifest(winter)
    status = {c["init_utc"][:10]: c["status"] for c in manifest["cycles"]}
    assert status == {
        "2021-12-20": "ok",
        "2022-01-27": "ok",
        "2022-01-28": "missing",
        "2022-01-29": "late",
    }
    assert not (winter / "nwp" / "wcs_2022012800.nc").exists()
    late = next(c for c in manifest["cycles"] if c["status"] == "late")
    mtime = pd.Timestamp((winter / "nwp" / "wcs_2022012900.nc").stat().st_mtime, unit="s")
    assert mtime == pd.Timestamp(late["available_utc"]).tz_localize(None)
    assert mtime > pd.Timestamp(late["nominal_available_utc"]).tz_localize(None)

    fc = xr.open_dataset(winter / "nwp" / "wcs_2021122000.nc")
    assert fc["init_time"].ndim == 0
    assert pd.Timestamp(fc["init_time"].values) == pd.Timestamp("2021-12-20 00:00")
    leads = fc["lead"].values / np.timedelta64(1, "h")
    assert leads.tolist() == list(range(169))
    np.testing.assert_array_equal(
        fc["time"].values - fc["lead"].values, np.repeat(fc["init_time"].values, 169)
    )
    assert set(fc.data_vars) == set(MET) and fc["t2m"].dims == ("time", "lat", "lon")
    truth = (
        xr.open_mfdataset(sorted((winter / "analysis").glob("met_*.nc")))
        .sel(time=fc["time"])
        .load()
    )
    for name in ("t2m", "blh", "u10"):
        err = fc[name] - truth[name]
        if name == "blh":
            err = np.log(fc[name] / truth[name])
        rmse = np.sqrt((err**2).mean(dim=("lat", "lon")))
        assert float(rmse.isel(time=168)) > float(rmse.isel(time=6)), name
        assert float(rmse.isel(time=slice(144, 169)).mean()) > 2 * float(
            rmse.isel(time=slice(0, 12)).mean()
        ), name


def test_default_cycle_days(short: Path) -> None:
    manifest = _manifest(short)
    strongest = manifest["episodes"]["strongest"]
    expected = {"2022-01-13", "2022-01-14", "2022-01-15"}
    if strongest is not None:
        pre = pd.Timestamp(strongest["peak_date"]) - pd.Timedelta(days=1)
        if pre >= pd.Timestamp("2022-01-10"):
            expected.add(f"{pre:%Y-%m-%d}")
    assert set(manifest["parameters"]["cycle_days"]) == expected
    statuses = [c["status"] for c in manifest["cycles"]]
    assert statuses[-2:] == ["missing", "late"]
    written = sorted(p.name for p in (short / "nwp").glob("*.nc"))
    assert "wcs_2022011400.nc" not in written and "wcs_2022011500.nc" in written


# --------------------------------------------------------------------------------------------
# command line


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="wcs-forecast")
    sub = parser.add_subparsers(dest="command", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config")
    add_synth_parser(sub, [common])
    return parser


def test_cli_writes_a_data_set_that_obs_import_reads(
    tmp_path: Path, config_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from forecast.cli import main

    out = tmp_path / "cli"
    args = _parser().parse_args(
        [
            "synth",
            "--out",
            str(out),
            "--days",
            "2",
            "--start",
            "2022-01-05",
            "--seed",
            "3",
            "--config",
            str(config_path),
            "--quiet",
        ]
    )
    assert args.func(args) == 0
    assert "urumqi" in capsys.readouterr().out
    assert _manifest(out)["parameters"]["days"] == 2
    code = main(
        [
            "obs",
            "import",
            str(out / "obs"),
            "--format",
            "cnemc-hourly",
            "--config",
            str(out / "config.yaml"),
            "--out",
            str(tmp_path / "obs.nc"),
        ]
    )
    assert code == 0
    assert read_netcdf(tmp_path / "obs.nc").sizes == {"site": 21, "time": 48}
    again = _parser().parse_args(["synth", "--out", str(out), "--days", "2"])
    with pytest.raises(ConfigError, match="overwrite"):
        again.func(again)
    bad = _parser().parse_args(["synth", "--out", str(tmp_path / "bad"), "--stations", "2"])
    with pytest.raises(ConfigError, match="stations"):
        bad.func(bad)
