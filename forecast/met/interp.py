"""Grid → point interpolation, vectorised over sites and times (no Python loop over points).

- :func:`bilinear_to_points`: regular grids (1-D ``lat``/``lon``). Where all four neighbours are
  valid it is exactly the bilinear value (agrees with ``DataArray.interp(method="linear")``).
  Near masked cells (NaN) it uses only the valid neighbours: the bilinear weights of the valid
  neighbours are renormalised to sum to 1, so a site next to a coast or a mask edge still gets a
  value; NaN only when none of the four is valid. (If the valid neighbours all have weight 0 —
  the site lies exactly on a masked node or edge — their plain mean is used.) Sites outside the
  grid get NaN, as with ``DataArray.interp``.
- :func:`idw_to_points` and :func:`nearest_to_points`: curvilinear grids (2-D ``lat``/``lon`` on
  ``(y, x)``, e.g. WRF). Neighbours are found with a KD-tree (``scipy.spatial.cKDTree`` when
  SciPy is installed, else a vectorised NumPy search) on 3-D unit-sphere coordinates, so
  distances are great-circle (chordal) distances, correct across the dateline and near the poles.
  NaN neighbours are skipped: grid points that are NaN at every time are removed before the
  search, and among the remaining candidates the ``k`` nearest *valid* ones at each time are
  used.
- :func:`grid_to_sites`: every variable of a canonical grid (:func:`forecast.met.grids.open_grid`)
  at a list of sites → Dataset with dims ``(site, time[, member])``.

Inputs may be Dask-backed (e.g. ``ds.chunk(time=24)``): the work is mapped over the chunks of the
non-spatial dims with :func:`xarray.apply_ufunc` (spatial dims are merged into one chunk).
Longitudes are degrees east (any convention: sites are wrapped to the grid's), latitudes degrees
north.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
import xarray as xr

Method = Literal["auto", "bilinear", "idw", "nearest"]
KnnBackend = Literal["auto", "scipy", "numpy"]

_EXACT = 1e-12  # chord length below which a site coincides with a grid point [unit sphere]


# ---------------------------------------------------------------------------------------------
# Geometry
# ---------------------------------------------------------------------------------------------
def unit_xyz(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Degrees east/north → (n, 3) Cartesian coordinates on the unit sphere."""
    lam = np.radians(np.asarray(lon, dtype=np.float64).ravel())
    phi = np.radians(np.asarray(lat, dtype=np.float64).ravel())
    cos_phi = np.cos(phi)
    return np.stack([cos_phi * np.cos(lam), cos_phi * np.sin(lam), np.sin(phi)], axis=1)


def chord_to_degrees(chord: np.ndarray) -> np.ndarray:
    """Chord length on the unit sphere → great-circle arc [degrees]."""
    return np.degrees(2.0 * np.arcsin(np.clip(np.asarray(chord) / 2.0, 0.0, 1.0)))


def knn(
    points: np.ndarray, queries: np.ndarray, k: int, *, backend: KnnBackend = "auto"
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` nearest ``points`` to each query (both (n, 3) unit vectors).

    Returns ``(chord, index)``, each (n_query, k), sorted by distance. ``backend="numpy"`` forces
    the SciPy-free search (blocks of queries against all points, ``argpartition``).
    """
    k = int(min(k, points.shape[0]))
    if k < 1:
        raise ValueError("knn needs at least one grid point")
    if backend in ("auto", "scipy"):
        try:
            from scipy.spatial import cKDTree
        except ImportError:
            if backend == "scipy":
                raise
        else:
            dist, idx = cKDTree(points).query(queries, k=k)
            return (
                np.asarray(dist, dtype=np.float64).reshape(len(queries), k),
                np.asarray(idx, dtype=np.int64).reshape(len(queries), k),
            )
    n = points.shape[0]
    block = max(1, int(4_000_000 // max(n, 1)))
    chords = np.empty((len(queries), k))
    index = np.empty((len(queries), k), dtype=np.int64)
    for s in range(0, len(queries), block):  # blocks of queries, not points: bounded memory
        q = queries[s : s + block]
        d2 = np.maximum(2.0 - 2.0 * (q @ points.T), 0.0)  # squared chord
        part = (
            np.argpartition(d2, k - 1, axis=1)[:, :k]
            if k < n
            else np.tile(np.arange(n), (len(q), 1))
        )
        dpart = np.take_along_axis(d2, part, axis=1)
        order = np.argsort(dpart, axis=1, kind="stable")
        index[s : s + block] = np.take_along_axis(part, order, axis=1)
        chords[s : s + block] = np.sqrt(np.take_along_axis(dpart, order, axis=1))
    return chords, index


def _wrap_like(lon: np.ndarray, grid_lon: np.ndarray) -> np.ndarray:
    """Site longitudes in the grid's convention (0…360 if the grid goes beyond 180°E)."""
    lon = np.asarray(lon, dtype=np.float64)
    if np.nanmax(grid_lon) > 180.0:
        return lon % 360.0
    return (lon + 180.0) % 360.0 - 180.0


def _is_regular(da: xr.DataArray | xr.Dataset) -> bool:
    return "lat" in da.coords and "lon" in da.coords and da["lat"].ndim == 1 and da["lon"].ndim == 1


# ---------------------------------------------------------------------------------------------
# Bilinear (regular grids)
# ---------------------------------------------------------------------------------------------
def _bracket(coord: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lower index, fraction in [0, 1], inside-mask of ``x`` on ascending ``coord``."""
    n = coord.size
    if n < 2:
        raise ValueError("bilinear interpolation needs at least 2 points along each axis")
    i0 = np.clip(np.searchsorted(coord, x, side="right") - 1, 0, n - 2)
    lo, hi = coord[i0], coord[i0 + 1]
    frac = (x - lo) / (hi - lo)
    inside = (x >= coord[0]) & (x <= coord[-1])
    return i0, frac, inside


def _bilinear_setup(
    lat_c: np.ndarray, lon_c: np.ndarray, lon: np.ndarray, lat: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Flat indices (n, 4), weights (n, 4) and inside-mask for sites on a lat/lon grid."""
    i0, ty, in_y = _bracket(lat_c, lat)
    j0, tx, in_x = _bracket(lon_c, _wrap_like(lon, lon_c))
    nx = lon_c.size
    idx = np.stack(
        [i0 * nx + j0, i0 * nx + j0 + 1, (i0 + 1) * nx + j0, (i0 + 1) * nx + j0 + 1], axis=1
    )
    w = np.stack([(1 - ty) * (1 - tx), (1 - ty) * tx, ty * (1 - tx), ty * tx], axis=1)
    return idx, w, in_x & in_y


def _neighbour_sums(flat: np.ndarray, idx: np.ndarray, w: np.ndarray, backend: str) -> np.ndarray:
    """Σ_c w[s, c] · flat[t, idx[s, c]] → (n_t, n_site); ``flat`` (n_t, n_grid) without NaN.

    ``backend="sparse"``: one sparse (n_site × n_grid) matrix product (SciPy); ``"numpy"``: a
    gather per neighbour (4 or k passes, each vectorised over all sites and times).
    """
    n_site, n_nb = idx.shape
    if backend == "sparse":
        from scipy import sparse

        rows = np.repeat(np.arange(n_site), n_nb)
        mat = sparse.csr_matrix((w.ravel(), (rows, idx.ravel())), shape=(n_site, flat.shape[1]))
        return np.ascontiguousarray(np.asarray(mat @ flat.T).T)
    out = np.zeros((flat.shape[0], n_site))
    for c in range(n_nb):
        out += np.take(flat, idx[:, c], axis=1) * w[:, c]
    return out


def _sparse_available() -> bool:
    try:
        import scipy.sparse  # noqa: F401
    except ImportError:
        return False
    return True


def _weighted_kernel(
    values: np.ndarray,
    idx: np.ndarray,
    w: np.ndarray,
    inside: np.ndarray,
    backend: str = "auto",
) -> np.ndarray:
    """values (..., ny, nx) → (..., n_site): Σ w·v over valid neighbours / Σ w over them."""
    if backend == "auto":
        backend = "sparse" if _sparse_available() else "numpy"
    lead = values.shape[:-2]
    flat = values.reshape(-1, values.shape[-2] * values.shape[-1]).astype(np.float64)
    nan = np.isnan(flat)
    if not nan.any():  # the common case: plain bilinear
        out = _neighbour_sums(flat, idx, w, backend)
    else:
        valid = (~nan).astype(np.float64)
        data = np.where(nan, 0.0, flat)
        num = _neighbour_sums(data, idx, w, backend)
        den = _neighbour_sums(valid, idx, w, backend)
        with np.errstate(invalid="ignore", divide="ignore"):
            out = num / den
        zero = (den <= 0.0) & inside
        if zero.any():
            # no valid neighbour with weight > 0: the plain mean of the valid ones (a site exactly
            # on a masked node or edge), NaN if there is none
            ones = np.ones_like(w)
            n_valid = _neighbour_sums(valid, idx, ones, backend)
            with np.errstate(invalid="ignore", divide="ignore"):
                plain = _neighbour_sums(data, idx, ones, backend) / n_valid
            out = np.where(zero, plain, out)
    out[:, ~inside] = np.nan
    return out.reshape(*lead, idx.shape[0])


def bilinear_to_points(
    da: xr.DataArray,
    lon: Sequence[float] | np.ndarray,
    lat: Sequence[float] | np.ndarray,
    *,
    site_dim: str = "site",
) -> xr.DataArray:
    """Bilinear interpolation of a regular lat/lon grid to points, masked cells renormalised.

    Parameters
    ----------
    da
        Values on 1-D ``lat`` [degrees_north] and ``lon`` [degrees_east] coordinates (sorted
        internally if descending); any other dims (``time``, ``member``) are kept.
    lon, lat
        Site coordinates [degrees]; longitudes in any convention.

    Returns
    -------
    xr.DataArray
        dims ``(<other dims of da>, site)``, float64, ``da``'s attributes. Where all four
        neighbours are valid: the bilinear value (same as ``da.interp(lat=…, lon=…)``); where
        some are NaN: the bilinear weights renormalised over the valid ones; NaN when none is
        valid or the site is outside the grid.
    """
    if not _is_regular(da):
        raise ValueError(
            "bilinear_to_points needs 1-D 'lat' and 'lon' coordinates; use "
            "idw_to_points or nearest_to_points on curvilinear grids"
        )
    if not (
        da.indexes["lat"].is_monotonic_increasing and da.indexes["lon"].is_monotonic_increasing
    ):
        da = da.sortby(["lat", "lon"])
    lon_a = np.asarray(lon, dtype=np.float64).ravel()
    lat_a = np.asarray(lat, dtype=np.float64).ravel()
    idx, w, inside = _bilinear_setup(
        np.asarray(da["lat"].values, dtype=np.float64),
        np.asarray(da["lon"].values, dtype=np.float64),
        lon_a,
        lat_a,
    )
    return _apply(da, ("lat", "lon"), _weighted_kernel, (idx, w, inside), site_dim, lon_a.size)


def neighbourhood_indices(
    grid: xr.DataArray | xr.Dataset, lon: np.ndarray, lat: np.ndarray
) -> np.ndarray:
    """Flat indices (n_site, 4) of each site's neighbours in the last two (spatial) dims.

    Regular grid: the 2×2 cell used by :func:`bilinear_to_points`; curvilinear grid: the 4
    nearest grid points on the unit sphere.
    """
    lon = np.asarray(lon, dtype=np.float64).ravel()
    lat = np.asarray(lat, dtype=np.float64).ravel()
    if _is_regular(grid):
        idx, _, _ = _bilinear_setup(
            np.asarray(grid["lat"].values, dtype=np.float64),
            np.asarray(grid["lon"].values, dtype=np.float64),
            lon,
            lat,
        )
        return idx
    pts = unit_xyz(grid["lon"].values, grid["lat"].values)
    _, index = knn(pts, unit_xyz(lon, lat), 4)
    return index


# ---------------------------------------------------------------------------------------------
# Curvilinear: IDW and nearest
# ---------------------------------------------------------------------------------------------
def _spatial_dims(da: xr.DataArray) -> tuple[str, str]:
    if da["lat"].ndim != 2:
        raise ValueError("expected 2-D 'lat'/'lon' coordinates (a curvilinear grid)")
    dims = da["lat"].dims
    return str(dims[0]), str(dims[1])


def _valid_anywhere(da: xr.DataArray, spatial: tuple[str, str]) -> np.ndarray:
    other = [d for d in da.dims if d not in spatial]
    anyv = da.notnull().any(dim=other) if other else da.notnull()
    return np.asarray(anyv.transpose(*spatial).values).ravel()


def _candidates(
    da: xr.DataArray, lon: np.ndarray, lat: np.ndarray, n_cand: int, backend: KnnBackend
) -> tuple[np.ndarray, np.ndarray, tuple[str, str]]:
    """Candidate flat indices and chords (n_site, n_cand) among points valid at some time."""
    spatial = _spatial_dims(da)
    glon = np.asarray(da["lon"].transpose(*spatial).values, dtype=np.float64).ravel()
    glat = np.asarray(da["lat"].transpose(*spatial).values, dtype=np.float64).ravel()
    usable = np.flatnonzero(_valid_anywhere(da, spatial) & np.isfinite(glon) & np.isfinite(glat))
    n_site = lon.size
    if usable.size == 0:
        return (np.zeros((n_site, 1), dtype=np.int64), np.full((n_site, 1), np.inf), spatial)
    chord, sub = knn(
        unit_xyz(glon[usable], glat[usable]), unit_xyz(lon, lat), n_cand, backend=backend
    )
    return usable[sub], chord, spatial


def _idw_kernel(
    values: np.ndarray, idx: np.ndarray, chord: np.ndarray, k: int, power: float
) -> np.ndarray:
    flat = values.reshape(*values.shape[:-2], values.shape[-2] * values.shape[-1])
    cand = np.take(flat, idx, axis=-1).astype(np.float64)  # (..., n_site, n_cand)
    valid = np.isfinite(cand) & np.isfinite(chord)
    sel = valid & (np.cumsum(valid, axis=-1) <= k)  # the k nearest valid candidates
    arc = 2.0 * np.arcsin(np.clip(chord / 2.0, 0.0, 1.0))
    exact = sel & (chord <= _EXACT)
    with np.errstate(divide="ignore"):
        w = np.where(chord <= _EXACT, 0.0, 1.0 / np.power(np.maximum(arc, 1e-300), power))
    w = np.where(exact.any(axis=-1, keepdims=True), exact.astype(np.float64), np.where(sel, w, 0.0))
    den = w.sum(axis=-1)
    num = (np.where(sel, cand, 0.0) * w).sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / den, np.nan)


def _nearest_kernel(values: np.ndarray, idx: np.ndarray, chord: np.ndarray) -> np.ndarray:
    flat = values.reshape(*values.shape[:-2], values.shape[-2] * values.shape[-1])
    cand = np.take(flat, idx, axis=-1).astype(np.float64)
    valid = np.isfinite(cand) & np.isfinite(chord)
    first = np.argmax(valid, axis=-1)[..., None]
    out = np.take_along_axis(cand, first, axis=-1)[..., 0]
    return np.where(valid.any(axis=-1), out, np.nan)


def idw_to_points(
    da: xr.DataArray,
    lon: Sequence[float] | np.ndarray,
    lat: Sequence[float] | np.ndarray,
    k: int = 4,
    power: float = 2.0,
    *,
    site_dim: str = "site",
    backend: KnnBackend = "auto",
) -> xr.DataArray:
    """Inverse-distance weighting from a curvilinear grid (2-D ``lat``/``lon``) to points.

    Each site gets ``Σ wᵢ vᵢ / Σ wᵢ`` over its ``k`` nearest *valid* grid points at each time,
    ``wᵢ = 1 / dᵢ^power`` with ``dᵢ`` the great-circle distance (on the unit sphere); a site on a
    grid point takes its value. NaN neighbours are skipped (the next valid candidates are used,
    up to ``max(2k, k + 4)`` candidates); NaN when none is valid. Returns dims
    ``(<other dims of da>, site)``, float64.
    """
    if k < 1:
        raise ValueError("k must be ≥ 1")
    lon_a = np.asarray(lon, dtype=np.float64).ravel()
    lat_a = np.asarray(lat, dtype=np.float64).ravel()
    idx, chord, spatial = _candidates(da, lon_a, lat_a, max(2 * k, k + 4), backend)
    return _apply(da, spatial, _idw_kernel, (idx, chord, k, power), site_dim, lon_a.size)


def nearest_to_points(
    da: xr.DataArray,
    lon: Sequence[float] | np.ndarray,
    lat: Sequence[float] | np.ndarray,
    *,
    site_dim: str = "site",
    backend: KnnBackend = "auto",
) -> xr.DataArray:
    """Nearest valid grid point (great-circle distance) of a curvilinear or regular grid.

    At each time the nearest grid point that is not NaN is used (among the 8 nearest
    candidates); NaN when none is valid. Returns dims ``(<other dims of da>, site)``.
    """
    lon_a = np.asarray(lon, dtype=np.float64).ravel()
    lat_a = np.asarray(lat, dtype=np.float64).ravel()
    da = _as_curvilinear(da)
    idx, chord, spatial = _candidates(da, lon_a, lat_a, 8, backend)
    return _apply(da, spatial, _nearest_kernel, (idx, chord), site_dim, lon_a.size)


def _as_curvilinear(da: xr.DataArray) -> xr.DataArray:
    """A regular grid viewed with 2-D lat/lon on dims ('y', 'x') (no-op if already 2-D)."""
    if da["lat"].ndim == 2:
        return da
    lat1, lon1 = da["lat"].values, da["lon"].values
    out = da.rename({"lat": "y", "lon": "x"}).drop_vars(["y", "x"])
    glon, glat = np.meshgrid(lon1, lat1)
    return out.assign_coords(lat=(("y", "x"), glat), lon=(("y", "x"), glon))


# ---------------------------------------------------------------------------------------------
# Shared driver
# ---------------------------------------------------------------------------------------------
def _apply(
    da: xr.DataArray,
    spatial: tuple[str, str],
    kernel: Any,
    args: tuple[Any, ...],
    site_dim: str,
    n_site: int,
) -> xr.DataArray:
    """Run ``kernel(values[..., ny, nx], *args) -> [..., n_site]`` over NumPy or Dask data."""
    data = da.drop_vars([c for c in da.coords if set(da[c].dims) & set(spatial)])
    if data.chunks is not None:
        data = data.chunk({spatial[0]: -1, spatial[1]: -1})

    def run(values: np.ndarray) -> np.ndarray:
        return np.asarray(kernel(values, *args))

    return xr.apply_ufunc(
        run,
        data,
        input_core_dims=[list(spatial)],
        output_core_dims=[[site_dim]],
        dask="parallelized",
        output_dtypes=[np.float64],
        dask_gufunc_kwargs={"output_sizes": {site_dim: n_site}},
        keep_attrs=True,
    )


# ---------------------------------------------------------------------------------------------
# Dataset → sites
# ---------------------------------------------------------------------------------------------
def _parse_sites(
    sites: pd.DataFrame | tuple[Sequence[str], Sequence[float], Sequence[float]],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if isinstance(sites, pd.DataFrame):
        cols = {c.lower(): c for c in sites.columns}
        code = next(
            (cols[c] for c in ("code", "site", "stationcode", "station") if c in cols), None
        )
        lon = next((cols[c] for c in ("lon", "longitude") if c in cols), None)
        lat = next((cols[c] for c in ("lat", "latitude") if c in cols), None)
        if lon is None or lat is None:
            raise ValueError("sites table needs columns 'lon' and 'lat' (and 'code')")
        codes = (
            sites[code].astype(str).to_numpy()
            if code is not None
            else sites.index.astype(str).to_numpy()
        )
        return (
            np.asarray(codes, dtype=object),
            sites[lon].to_numpy(dtype=np.float64),
            sites[lat].to_numpy(dtype=np.float64),
        )
    codes, lon, lat = sites
    codes_a = np.asarray([str(c) for c in codes], dtype=object)
    lon_a = np.asarray(lon, dtype=np.float64).ravel()
    lat_a = np.asarray(lat, dtype=np.float64).ravel()
    if not (codes_a.size == lon_a.size == lat_a.size):
        raise ValueError("codes, lon and lat must have the same length")
    return codes_a, lon_a, lat_a


def grid_to_sites(
    ds: xr.Dataset,
    sites: pd.DataFrame | tuple[Sequence[str], Sequence[float], Sequence[float]],
    method: Method = "auto",
    *,
    k: int = 4,
    power: float = 2.0,
) -> xr.Dataset:
    """Every gridded variable of ``ds`` at the sites → Dataset with dims ``(site, time[, member])``.

    Parameters
    ----------
    ds
        A canonical grid (:func:`forecast.met.grids.open_grid`), NumPy- or Dask-backed.
    sites
        A table with columns ``code`` (or ``site``), ``lon``, ``lat`` [degrees], or a tuple
        ``(codes, lon, lat)``.
    method
        ``"auto"`` (bilinear on regular grids, IDW on curvilinear ones), ``"bilinear"``,
        ``"idw"`` (``k`` neighbours, weights ``1/d^power``) or ``"nearest"``.

    Returns
    -------
    xr.Dataset
        Variables with their attributes (plus ``interpolation``); coords ``site`` (= code),
        ``code``, ``lon``, ``lat`` on ``site`` and the grid's ``time``/``init_time``/``lead``.
    """
    codes, lon, lat = _parse_sites(sites)
    regular = _is_regular(ds)
    if method == "auto":
        method = "bilinear" if regular else "idw"
    if method == "bilinear" and not regular:
        raise ValueError("method 'bilinear' needs a regular grid (1-D lat/lon); use 'idw'")
    spatial = ("lat", "lon") if regular else tuple(str(d) for d in ds["lat"].dims)
    out_vars: dict[str, xr.DataArray] = {}
    for name, da in ds.data_vars.items():
        if not set(spatial) <= set(da.dims):
            continue
        if method == "bilinear":
            res = bilinear_to_points(da, lon, lat)
            note = "bilinear; weights renormalised over valid neighbours"
        elif method == "idw":
            res = idw_to_points(da if not regular else _as_curvilinear(da), lon, lat, k, power)
            note = f"inverse-distance weighting, k={k}, power={power}, great-circle distances"
        elif method == "nearest":
            res = nearest_to_points(da, lon, lat)
            note = "nearest valid grid point (great-circle distance)"
        else:
            raise ValueError(f"unknown method {method!r}; valid: auto, bilinear, idw, nearest")
        res.attrs = {**da.attrs, "interpolation": note}
        order = ["site", *[d for d in res.dims if d != "site"]]
        out_vars[str(name)] = res.transpose(*order)
    out = xr.Dataset(out_vars)
    out = out.assign_coords(
        site=("site", codes),
        code=("site", codes),
        lon=("site", lon, {"units": "degrees_east", "standard_name": "longitude"}),
        lat=("site", lat, {"units": "degrees_north", "standard_name": "latitude"}),
    )
    for c in ("time", "init_time", "lead", "tp_start", "member"):
        if c in ds.coords and c not in out.coords and set(ds[c].dims) <= set(out.dims):
            out = out.assign_coords({c: ds[c]})
    out.attrs = {**ds.attrs, "interpolation": method}
    return out
