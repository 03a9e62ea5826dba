"""Random numbers that do not depend on how the period is cut into chunks.

Every random draw of the generator comes from a stream named by a *key*: a tuple of
non-negative integers, turned into an independent generator with
``np.random.default_rng(np.random.SeedSequence(seed, spawn_key=key))`` — the same mechanism as
``SeedSequence(seed).spawn`` (child ``i`` of ``spawn`` has ``spawn_key=(i,)``), addressed
directly so that any stream can be rebuilt without building the others. Keys start with a
component id (:class:`Stream`) followed by an *absolute* index (knot number, day number since
:data:`EPOCH`, station group), never by an index relative to the start of a run or a chunk.
That makes each value a pure function of ``(seed, component, absolute time, station)``:

- chunk-size independence: a chunk of any length draws exactly the numbers it needs;
- the real stations' numbers do not change when synthetic stations are added (stations are
  drawn in groups: group 0 = the base configuration's stations, group ``g ≥ 1`` = synthetic
  stations ``256(g-1) … 256g-1``, each group from its own stream);
- a forecast cycle can evaluate "truth" beyond the end of the period.

Temporal smoothness comes from :class:`KnotNoise`: i.i.d. N(0, 1) values at knots every
``spacing`` hours, interpolated with Catmull-Rom cubics and renormalised to unit variance
(C¹-continuous, correlation time ≈ the knot spacing). Spatial smoothness comes from
:class:`SpatialNoise`: a sum of ``M`` random plane waves whose amplitudes are knot noise,
``f(t, x) = sqrt(2/M) · Σ_m a_m(t) cos(k_m · x + φ_m)``, with wavelengths log-uniform in
[``min_km``, ``max_km``]: unit variance, smooth at any resolution, cheap at arbitrary points.
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: Origin of every absolute index (hours, days, knots): 2000-01-01 00:00 UTC.
EPOCH = np.datetime64("2000-01-01T00", "h")
#: Stations per random-number group (see the module docstring).
GROUP_SIZE = 256
#: Knots generated per stream (one generator per block of knots).
KNOT_BLOCK = 64


class Stream(IntEnum):
    """Component ids: the first element of every stream key. Never renumber (reproducibility)."""

    FRONTS = 1
    T850 = 2
    T2M = 3
    WIND_U = 4
    WIND_V = 5
    BLH = 6
    RH = 7
    SP = 8
    TP = 9
    STAGNATION = 10
    CITY_EMISSION = 11
    STATION_EMISSION = 12
    STATION_STATIC = 13
    MEASUREMENT = 14
    MISSING = 15
    FAULTS = 16
    NETWORK = 17
    FORECAST_FRONTS = 18
    FORECAST_ERROR = 19
    SPATIAL_BASIS = 20
    GAS_NOISE = 21


def stream(seed: int, *key: int) -> np.random.Generator:
    """The independent generator named by ``(seed, key)``."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=tuple(int(k) for k in key)))


def hours_since_epoch(times: npt.ArrayLike) -> IntArray:
    """Naive UTC datetimes → whole hours since :data:`EPOCH` (int64)."""
    t = np.asarray(times, dtype="datetime64[h]")
    return (t - EPOCH).astype(np.int64)


def hours_to_datetime(hours: npt.ArrayLike) -> npt.NDArray[np.datetime64]:
    """Whole hours since :data:`EPOCH` → naive UTC ``datetime64[ns]``."""
    h = np.asarray(hours, dtype=np.int64)
    return (EPOCH + h.astype("timedelta64[h]")).astype("datetime64[ns]")


# Catmull-Rom weights for the four knots around a point at fraction u ∈ [0, 1).
def _catmull_rom(u: FloatArray) -> FloatArray:
    u2, u3 = u * u, u * u * u
    w = np.stack(
        [
            0.5 * (-u + 2.0 * u2 - u3),
            0.5 * (2.0 - 5.0 * u2 + 3.0 * u3),
            0.5 * (u + 4.0 * u2 - 3.0 * u3),
            0.5 * (-u2 + u3),
        ],
        axis=-1,
    )
    # Renormalise to unit variance for i.i.d. unit knots (C¹: d/du Σw² = 0 at the knots).
    return w / np.sqrt((w * w).sum(axis=-1, keepdims=True))


class KnotNoise:
    """``width`` independent smooth unit-variance series, random access in time.

    Parameters
    ----------
    seed, key : the stream prefix; knot block ``b`` is drawn from ``stream(seed, *key, b)``.
    width : number of independent series (modes, cities or stations of one group).
    spacing : knot spacing [hours].
    """

    def __init__(self, seed: int, key: tuple[int, ...], width: int, spacing: int) -> None:
        if spacing < 1:
            raise ValueError("knot spacing must be ≥ 1 hour")
        self.seed, self.key, self.width, self.spacing = seed, key, width, spacing
        self._cache: dict[int, FloatArray] = {}

    def _block(self, block: int) -> FloatArray:
        values = self._cache.get(block)
        if values is None:
            if len(self._cache) > 8:
                self._cache.clear()
            rng = stream(self.seed, *self.key, block)
            values = rng.standard_normal((KNOT_BLOCK, self.width))
            self._cache[block] = values
        return values

    def knots(self, first: int, last: int) -> FloatArray:
        """Knot values ``first … last`` (inclusive, absolute indices ≥ 0), shape (n, width)."""
        if first < 0:
            raise ValueError("times before the epoch (2000-01-01) are not supported")
        blocks = range(first // KNOT_BLOCK, last // KNOT_BLOCK + 1)
        table = np.concatenate([self._block(b) for b in blocks], axis=0)
        offset = blocks[0] * KNOT_BLOCK
        return table[first - offset : last - offset + 1]

    def at(self, hours: IntArray) -> FloatArray:
        """Values at integer hours since the epoch, shape (T, width)."""
        hours = np.asarray(hours, dtype=np.int64)
        j = hours // self.spacing
        u = (hours - j * self.spacing).astype(np.float64) / self.spacing
        first = int(j.min()) - 1
        table = self.knots(first, int(j.max()) + 2)
        idx = (j - first)[:, None] + np.arange(-1, 3)[None, :]  # (T, 4) rows of the table
        w = _catmull_rom(u)  # (T, 4)
        out = np.zeros((hours.size, self.width))
        for i in range(4):  # fixed summation order: identical values for any T
            out += w[:, i, None] * table[idx[:, i]]
        return out


class SpatialNoise:
    """Smooth unit-variance random field in space and time (random plane waves).

    Parameters
    ----------
    seed, key : stream prefix; the amplitudes use ``key``, the wave vectors
        ``(SPATIAL_BASIS, *key)``.
    modes : number of plane waves M.
    spacing : knot spacing of the amplitudes [hours] (≈ correlation time).
    min_km, max_km : range of wavelengths [km] (log-uniform).
    """

    def __init__(
        self,
        seed: int,
        key: tuple[int, ...],
        *,
        modes: int = 16,
        spacing: int = 12,
        min_km: float = 300.0,
        max_km: float = 1500.0,
    ) -> None:
        self.modes = modes
        self.amplitudes = KnotNoise(seed, key, modes, spacing)
        rng = stream(seed, Stream.SPATIAL_BASIS, *key)
        wavelength = np.exp(rng.uniform(np.log(min_km), np.log(max_km), modes))
        angle = rng.uniform(0.0, 2.0 * np.pi, modes)
        self.kx = 2.0 * np.pi / wavelength * np.cos(angle)  # [rad/km]
        self.ky = 2.0 * np.pi / wavelength * np.sin(angle)
        self.phase = rng.uniform(0.0, 2.0 * np.pi, modes)

    def basis(self, x_km: FloatArray, y_km: FloatArray) -> FloatArray:
        """cos(k_m·x + φ_m) · sqrt(2/M) at points, shape (M, P)."""
        arg = self.kx[:, None] * x_km[None, :] + self.ky[:, None] * y_km[None, :]
        return np.cos(arg + self.phase[:, None]) * np.sqrt(2.0 / self.modes)

    def at(self, hours: IntArray, basis: FloatArray) -> FloatArray:
        """Field values at hours (T,) and the points of ``basis`` (M, P), shape (T, P)."""
        a = self.amplitudes.at(hours)  # (T, M)
        out = np.zeros((a.shape[0], basis.shape[1]))
        for m in range(self.modes):  # elementwise, fixed order: no BLAS, no shape effects
            out += a[:, m, None] * basis[m][None, :]
        return out


def day_draws(
    seed: int, component: int, day: int, group: int, shape: tuple[int, ...], normal: bool = True
) -> FloatArray:
    """Draws of one UTC day (days since the epoch) for one station group, shape ``shape``."""
    rng = stream(seed, component, day, group)
    return rng.standard_normal(shape) if normal else rng.random(shape)
