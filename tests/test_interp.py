"""Tests of forecast.met.interp: bilinear, IDW and nearest interpolation from grids to sites."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from helpers import ROOT, require_shared

from forecast.config import Config, load_config
from forecast.met import interp
from forecast.met.grids import open_grid
from forecast.met.interp import (
    bilinear_to_points,
    grid_to_sites,
    idw_to_points,
    knn,
    nearest_to_points,
    unit_xyz,
)


def _grids() -> Path:
    return require_shared("grids")


@pytest.fixture(scope="module")
def config() -> Config:
    return load_config(ROOT / "config.yaml")


@pytest.fixture(scope="module")
def stations(config: Config) -> tuple[list[str], np.ndarray, np.ndarray]:
    return (
        [s.code for s in config.stations],
        np.array([s.lon for s in config.stations]),
        np.array([s.lat for s in config.stations]),
    )


def synthetic_grid(n_time: int = 5, *, members: int = 0, seed: int = 0) -> xr.DataArray:
    """A regular 0.25° field over 80–95°E × 40–48°N with smooth and noisy parts."""
    rng = np.random.default_rng(seed)
    lat = np.arange(40.0, 48.001, 0.25)
    lon = np.arange(80.0, 95.001, 0.25)
    dims: tuple[str, ...] = ("time", "lat", "lon")
    shape: tuple[int, ...] = (n_time, lat.size, lon.size)
    coords: dict[str, object] = {
        "time": pd.date_range("2020-01-01", periods=n_time, freq="h"),
        "lat": lat,
        "lon": lon,
    }
    if members:
        dims = ("time", "member", "lat", "lon")
        shape = (n_time, members, lat.size, lon.size)
        coords["member"] = np.arange(members)
    base = 300 + 10 * np.sin(np.radians(lon))[None, :] * np.cos(np.radians(lat))[:, None]
    values = base + rng.normal(0, 5, shape)
    return xr.DataArray(values, dims=dims, coords=coords, name="blh", attrs={"units": "m"})


def xarray_reference(da: xr.DataArray, lon: np.ndarray, lat: np.ndarray) -> xr.DataArray:
    return da.interp(lat=xr.DataArray(lat, dims="site"), lon=xr.DataArray(lon, dims="site"))


# --------------------------------------------------------------------------------------------
# bilinear
# --------------------------------------------------------------------------------------------
def test_bilinear_matches_xarray_interp_on_a_regular_grid() -> None:
    da = synthetic_grid(6)
    rng = np.random.default_rng(1)
    lon = np.concatenate([rng.uniform(80, 95, 300), [80.0, 95.0, 87.5, 80.25]])  # incl. nodes/edges
    lat = np.concatenate([rng.uniform(40, 48, 300), [40.0, 48.0, 43.75, 47.75]])
    ours = bilinear_to_points(da, lon, lat)
    ref = xarray_reference(da, lon, lat)
    assert ours.dims == ("time", "site")
    assert np.isfinite(ours).all()
    np.testing.assert_allclose(ours.values, ref.transpose("time", "site").values, atol=1e-6, rtol=0)


def test_bilinear_with_members_and_descending_latitudes() -> None:
    da = synthetic_grid(3, members=4)
    lon, lat = np.array([81.3, 90.1, 94.9]), np.array([40.2, 44.4, 47.9])
    ours = bilinear_to_points(da.isel(lat=slice(None, None, -1)), lon, lat)  # north→south input
    assert ours.dims == ("time", "member", "site")
    ref = xarray_reference(da, lon, lat).transpose("time", "member", "site")
    np.testing.assert_allclose(ours.values, ref.values, atol=1e-6, rtol=0)


def test_bilinear_outside_the_grid_is_nan_and_longitudes_wrap() -> None:
    da = synthetic_grid(2)
    ours = bilinear_to_points(da, [79.0, 96.0, 85.0, 85.0 - 360.0], [44.0, 44.0, 39.0, 44.0])
    assert np.isnan(ours.values[:, :3]).all()
    np.testing.assert_allclose(ours.values[:, 3], bilinear_to_points(da, [85.0], [44.0])[:, 0])
    grid_0360 = da.assign_coords(lon=da["lon"] % 360)  # already 80–95: same either way
    np.testing.assert_allclose(
        bilinear_to_points(grid_0360, [85.1], [44.1]), bilinear_to_points(da, [85.1 - 360], [44.1])
    )


def test_masked_neighbours_renormalised() -> None:
    # 2×2 cell, values 10 (SW), 20 (SE), 30 (NW), 40 (NE); the site at tx = 0.25, ty = 0.5
    da = xr.DataArray(
        np.array([[[10.0, 20.0], [30.0, 40.0]]]),
        dims=("time", "lat", "lon"),
        coords={"time": [np.datetime64("2020-01-01", "ns")], "lat": [0.0, 1.0], "lon": [0.0, 1.0]},
    )
    lon, lat = [0.25], [0.5]
    w = {"sw": 0.5 * 0.75, "se": 0.5 * 0.25, "nw": 0.5 * 0.75, "ne": 0.5 * 0.25}
    full = bilinear_to_points(da, lon, lat).item()
    assert full == pytest.approx(10 * w["sw"] + 20 * w["se"] + 30 * w["nw"] + 40 * w["ne"])
    one_nan = da.copy()
    one_nan[0, 1, 1] = np.nan  # NE masked
    expected = (10 * w["sw"] + 20 * w["se"] + 30 * w["nw"]) / (w["sw"] + w["se"] + w["nw"])
    assert bilinear_to_points(one_nan, lon, lat).item() == pytest.approx(expected)
    assert np.isnan(xarray_reference(one_nan, np.array(lon), np.array(lat))).all()  # xarray: NaN
    only_se = da.copy()
    only_se[0] = [[np.nan, 20.0], [np.nan, np.nan]]
    assert bilinear_to_points(only_se, lon, lat).item() == pytest.approx(20.0)
    all_nan = da.copy()
    all_nan[0] = np.nan
    assert np.isnan(bilinear_to_points(all_nan, lon, lat).item())
    # a site exactly on a masked node: its valid neighbours have zero weight → their mean
    on_node = da.copy()
    on_node[0, 0, 0] = np.nan
    assert bilinear_to_points(on_node, [0.0], [0.0]).item() == pytest.approx(30.0)


@pytest.mark.parametrize("sparse", [True, False])
def test_renormalisation_with_random_masks_matches_a_loop(
    sparse: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if sparse:
        pytest.importorskip("scipy", reason="SciPy not installed: only the NumPy path exists")
    else:
        monkeypatch.setattr(interp, "_sparse_available", lambda: False)
    da = synthetic_grid(4, seed=7)
    rng = np.random.default_rng(8)
    values = da.values.copy()
    values[rng.random(values.shape) < 0.4] = np.nan  # 40 % masked, differently at each time
    da = da.copy(data=values)
    lon, lat = rng.uniform(80, 95, 200), rng.uniform(40, 48, 200)
    ours = bilinear_to_points(da, lon, lat).values
    glat, glon = da["lat"].values, da["lon"].values
    expected = np.full(ours.shape, np.nan)
    for s in range(lon.size):  # reference: one site at a time, textbook formulas
        i = min(np.searchsorted(glat, lat[s], side="right") - 1, glat.size - 2)
        j = min(np.searchsorted(glon, lon[s], side="right") - 1, glon.size - 2)
        ty = (lat[s] - glat[i]) / (glat[i + 1] - glat[i])
        tx = (lon[s] - glon[j]) / (glon[j + 1] - glon[j])
        corners = [
            (i, j, (1 - ty) * (1 - tx)),
            (i, j + 1, (1 - ty) * tx),
            (i + 1, j, ty * (1 - tx)),
            (i + 1, j + 1, ty * tx),
        ]
        for t in range(values.shape[0]):
            ok = [(values[t, a, b], w) for a, b, w in corners if np.isfinite(values[t, a, b])]
            if ok:
                expected[t, s] = sum(v * w for v, w in ok) / sum(w for _, w in ok)
    np.testing.assert_allclose(ours, expected, rtol=1e-12, atol=1e-9)
    assert np.isnan(ours).any() and np.isfinite(ours).mean() > 0.9


# --------------------------------------------------------------------------------------------
# curvilinear: IDW and nearest against a brute-force reference
# --------------------------------------------------------------------------------------------
def curvilinear_grid(seed: int = 0) -> xr.DataArray:
    """A rotated, stretched 12×15 grid over Xinjiang with some NaNs (static and per time)."""
    rng = np.random.default_rng(seed)
    j, i = np.meshgrid(np.arange(15.0), np.arange(12.0))
    lon = 84 + 0.45 * j + 0.12 * i + 0.01 * j**1.5
    lat = 41 + 0.38 * i - 0.08 * j
    values = rng.normal(280, 5, (3, 12, 15))
    values[:, 5, 6] = np.nan  # masked at every time
    values[1, 6, 7] = np.nan  # masked at one time
    return xr.DataArray(
        values,
        dims=("time", "y", "x"),
        coords={
            "time": pd.date_range("2020-01-01", periods=3, freq="3h"),
            "lat": (("y", "x"), lat),
            "lon": (("y", "x"), lon),
        },
    )


def brute_force(
    da: xr.DataArray, lon: np.ndarray, lat: np.ndarray, k: int, power: float, nearest: bool = False
) -> np.ndarray:
    """Per time and site: haversine distances to every grid point, k nearest valid, IDW."""
    glon = np.radians(da["lon"].values.ravel())
    glat = np.radians(da["lat"].values.ravel())
    out = np.full((da.sizes["time"], lon.size), np.nan)
    for t in range(da.sizes["time"]):
        vals = da.isel(time=t).values.ravel()
        for s in range(lon.size):
            lo, la = np.radians(lon[s]), np.radians(lat[s])
            h = (
                np.sin((glat - la) / 2) ** 2
                + np.cos(la) * np.cos(glat) * np.sin((glon - lo) / 2) ** 2
            )
            d = 2 * np.arcsin(np.sqrt(h))
            order = [i for i in np.argsort(d, kind="stable") if np.isfinite(vals[i])]
            if nearest:
                out[t, s] = vals[order[0]]
                continue
            sel = order[:k]
            if d[sel[0]] < 1e-12:
                out[t, s] = vals[sel[0]]
                continue
            w = 1 / d[sel] ** power
            out[t, s] = np.sum(w * vals[sel]) / np.sum(w)
    return out


@pytest.mark.parametrize("backend", ["scipy", "numpy"])
def test_idw_and_nearest_match_brute_force(backend: str) -> None:
    if backend == "scipy":
        pytest.importorskip("scipy", reason="SciPy not installed: the NumPy search is used")
    da = curvilinear_grid()
    rng = np.random.default_rng(3)
    lon = np.concatenate([rng.uniform(86, 89, 40), [da["lon"].values[6, 7], 87.1]])
    lat = np.concatenate([rng.uniform(42, 44, 40), [da["lat"].values[6, 7], 43.3]])
    idw = idw_to_points(da, lon, lat, k=4, power=2, backend=backend)  # type: ignore[arg-type]
    assert idw.dims == ("time", "site")
    np.testing.assert_allclose(idw.values, brute_force(da, lon, lat, 4, 2.0), rtol=1e-10)
    idw3 = idw_to_points(da, lon, lat, k=3, power=1.5, backend=backend)  # type: ignore[arg-type]
    np.testing.assert_allclose(idw3.values, brute_force(da, lon, lat, 3, 1.5), rtol=1e-10)
    near = nearest_to_points(da, lon, lat, backend=backend)  # type: ignore[arg-type]
    np.testing.assert_allclose(near.values, brute_force(da, lon, lat, 1, 1, nearest=True))
    # the site on grid point (6, 7): its own value, except at time 1 where it is masked
    assert idw.values[0, -2] == pytest.approx(da.values[0, 6, 7])
    assert np.isfinite(idw.values[1, -2]) and idw.values[1, -2] != da.values[0, 6, 7]


def test_knn_numpy_and_scipy_agree() -> None:
    pytest.importorskip("scipy", reason="SciPy not installed: nothing to compare against")
    rng = np.random.default_rng(5)
    pts = unit_xyz(rng.uniform(-180, 180, 3000), rng.uniform(-90, 90, 3000))
    q = unit_xyz(rng.uniform(-180, 180, 200), rng.uniform(-90, 90, 200))
    d1, i1 = knn(pts, q, 6, backend="scipy")
    d2, i2 = knn(pts, q, 6, backend="numpy")
    np.testing.assert_array_equal(i1, i2)
    np.testing.assert_allclose(d1, d2, atol=1e-7)


# --------------------------------------------------------------------------------------------
# grid_to_sites
# --------------------------------------------------------------------------------------------
def test_grid_to_sites_layout_and_dask() -> None:
    da = synthetic_grid(48)
    ds = xr.Dataset({"blh": da, "t2m": da + 1}, attrs={"source_files": "synthetic"})
    sites = pd.DataFrame({"code": ["1490A", "2709A"], "lon": [87.58, 86.05], "lat": [43.83, 44.30]})
    out = grid_to_sites(ds, sites)
    assert out["blh"].dims == ("site", "time")
    assert list(out["site"].values) == ["1490A", "2709A"]
    assert list(out["code"].values) == ["1490A", "2709A"]
    np.testing.assert_allclose(out["lon"].values, [87.58, 86.05])
    assert out["blh"].attrs["units"] == "m" and "bilinear" in out["blh"].attrs["interpolation"]
    np.testing.assert_allclose(out["t2m"] - out["blh"], 1.0)
    lazy = grid_to_sites(ds.chunk(time=10), (["1490A", "2709A"], [87.58, 86.05], [43.83, 44.30]))
    assert lazy["blh"].chunks is not None  # stayed lazy
    xr.testing.assert_allclose(lazy.compute(), out)


def test_grid_to_sites_curvilinear_uses_idw() -> None:
    da = curvilinear_grid()
    out = grid_to_sites(xr.Dataset({"t2m": da}), (["a"], [87.0], [43.0]))
    assert out["t2m"].dims == ("site", "time")
    assert "inverse-distance" in out["t2m"].attrs["interpolation"]
    np.testing.assert_allclose(
        out["t2m"].values[0], brute_force(da, np.array([87.0]), np.array([43.0]), 4, 2.0)[:, 0]
    )
    with pytest.raises(ValueError, match="regular grid"):
        grid_to_sites(xr.Dataset({"t2m": da}), (["a"], [87.0], [43.0]), method="bilinear")


# --------------------------------------------------------------------------------------------
# real data
# --------------------------------------------------------------------------------------------
@pytest.mark.shared
def test_bilinear_matches_xarray_on_the_real_pbl_grid(
    stations: tuple[list[str], np.ndarray, np.ndarray],
) -> None:
    ds = open_grid(_grids() / "pbl2020_xinjiang_3h.nc")
    da = ds["blh"].isel(time=slice(0, 8))
    _, lon, lat = stations
    ours = bilinear_to_points(da, lon, lat)
    ref = xarray_reference(da, lon, lat).transpose("time", "site")
    assert np.isfinite(ref).all()  # all four neighbours valid at every station
    np.testing.assert_allclose(ours.values, ref.values, atol=1e-6, rtol=0)


@pytest.mark.shared
def test_gfs_site_value_equals_hand_computed_bilinear() -> None:
    cfgrib = pytest.importorskip(
        "cfgrib", reason='GRIB needs the optional extra: pip install -e ".[grib]"'
    )
    path = _grids() / "gfs_2p5deg_f120.grib2"
    ds = open_grid(path)
    site = grid_to_sites(ds, (["1490A"], [87.5801], [43.8303]))
    # the raw, unnormalised array: lat 90 → −90 (north→south), lon 0 → 357.5, 2.5° steps
    raw = cfgrib.open_dataset(
        str(path),
        indexpath="",
        filter_by_keys={"typeOfLevel": "heightAboveGround", "level": 2},
    )
    t2m = np.asarray(raw["t2m"].values, dtype=np.float64)  # NEP 50: keep float64 math
    assert raw["latitude"].values[0] == 90.0 and raw["longitude"].values[0] == 0.0
    i_n, i_s = 18, 19  # 90 − 2.5·18 = 45.0°N, 42.5°N
    j_w, j_e = 35, 36  # 2.5·35 = 87.5°E, 90.0°E
    assert raw["latitude"].values[[i_n, i_s]].tolist() == [45.0, 42.5]
    assert raw["longitude"].values[[j_w, j_e]].tolist() == [87.5, 90.0]
    tx = (87.5801 - 87.5) / 2.5
    ty = (43.8303 - 42.5) / 2.5
    hand = (
        t2m[i_s, j_w] * (1 - tx) * (1 - ty)
        + t2m[i_s, j_e] * tx * (1 - ty)
        + t2m[i_n, j_w] * (1 - tx) * ty
        + t2m[i_n, j_e] * tx * ty
    )
    assert site["t2m"].sel(site="1490A").item() == pytest.approx(float(hand), abs=1e-6)
    assert 230 < hand < 280  # January in Urumqi [K]


@pytest.mark.shared
def test_january_boundary_layer_height_at_urumqi(
    config: Config, stations: tuple[list[str], np.ndarray, np.ndarray]
) -> None:
    ds = open_grid(_grids() / "pbl2020_xinjiang_3h.nc")
    sites = grid_to_sites(ds, stations)
    urban = [s.code for s in config.stations_of("urumqi") if not s.reference_site]
    # January 2020 in UTC (the grid's time axis): 248 three-hourly values
    jan = sites["blh"].sel(site=urban, time=slice("2020-01-01", "2020-01-31T21"))
    assert jan.sizes["time"] == 248
    per_station = jan.mean("time")
    city_mean = float(per_station.mean())
    print("\nJanuary 2020 mean boundary-layer height [m] at Urumqi's stations (UTC month):")
    for code, value in zip(per_station["site"].values, per_station.values, strict=True):
        print(f"  {code}: {value:6.1f}")
    print(f"  city mean (non-reference stations): {city_mean:.1f} m (README: ~210 m)")
    assert 150 < city_mean < 300
    assert per_station.min() > 100 and per_station.max() < 400
    july = sites["blh"].sel(site=urban, time=slice("2020-07-01", "2020-07-31T21")).mean()
    assert float(july) > 2.5 * city_mean  # summer mixing is much deeper (README: ~780 m)


@pytest.mark.shared
def test_raw_one_file_per_time_series_matches_the_merged_product(
    stations: tuple[list[str], np.ndarray, np.ndarray],
) -> None:
    merged = open_grid(_grids() / "pbl2020_xinjiang_3h.nc")
    raw = open_grid(_grids() / "pbl2020_raw_3h")
    # The subset is cut from the published grid, not regridded: its nodes are raw nodes.
    sub = raw.sel(lat=merged["lat"], lon=merged["lon"], method="nearest")
    assert np.abs(sub["lat"].values - merged["lat"].values).max() < 1e-4
    assert np.abs(sub["lon"].values - merged["lon"].values).max() < 1e-4
    a = grid_to_sites(raw, stations)["blh"]
    b = grid_to_sites(merged.sel(time=raw["time"]), stations)["blh"]
    assert a.sizes == {"site": 21, "time": 16}
    # Same product, same nodes, same float32 values → identical up to float32 resolution of
    # the stored coordinates (~1e-5°); 1e-3 m is far below any meaningful BLH difference.
    np.testing.assert_allclose(a.values, b.values, atol=1e-3, rtol=0)
