r"""Synthetic Wu-Chang-Shi weather: cold fronts, stagnant anticyclones, a basin around Urumqi.

The weather is an analytic function of (seed, time, place) — no time stepping — so any hour
at any point (grid cell or station) can be evaluated on its own: chunks, stations and forecast
cycles all see the same atmosphere. Times are whole hours since 2000-01-01 00 UTC (``t``, UTC);
places are lon/lat, projected to ``x, y`` [km] east/north of Urumqi (87.6°E, 43.8°N).

Synoptic regimes
----------------
**Cold fronts** form a renewal process (a "Poisson-like" process with a minimum spacing): gaps
``Δ = Δ_min + Gamma(k, (Δ̄(W) − Δ_min)/k)`` with ``Δ̄ = Δ̄₀ + Δ̄_w·W`` (longer quiet spells in
mid-winter). Front ``i`` has a strength ``s_i`` (truncated normal), a speed ``c_i`` and a
heading ``θ_i`` (towards the SE, i.e. moving NW→SE) and passes point ``x`` at

    t_i(x) = t_i^U + (x sin θ_i + y cos θ_i) / c_i           (t_i^U: passage at Urumqi)

With ``τ = t − t_i(x)`` [h] a front contributes the pulses

    g_w = exp(−τ²/2·3.5²) (τ<0), exp(−τ/15) (τ≥0)         wind, mixing, dry air behind it
    g_c = (1 − e^{−τ/5}) e^{−τ/48} (τ≥0)                   cold advection (drop, then recovery)
    g_h = exp(−(τ + 15)²/2·10²)                             warm sector ahead of the front
    g_p = exp(−(τ − 1)²/2·4²)                               precipitation band (snow in winter)
    g_s = (1 − e^{−τ/6}) e^{−τ/72} (τ≥0)                    cold high behind the front

(sums ``Σ s g`` run over the fronts of the last 20 days and the next 6 days).

**Stagnation** ``S ∈ [0, 1]`` (the building anticyclone / cold pool) grows between fronts and is
partly reset by each one, at each point:

    S(t) = 1 − (1 − S_i⁺) exp(−(t − t_i)/τ_b)                    after the last front i
    S_i⁺ = S_i⁻ (1 − r_i),  r_i = clip(a s_i − b, 0.1, 0.97) (1 − d_w W B)

(weak fronts and winter fronts inside the basin clear the cold pool only partly, so episodes
can last weeks). The recursion runs from the first front after 2000-01-01 (``S = 0.3``), so the
weather of a date does not depend on the start of the run. ``S̃ = clip(S + σ_S n_S, 0, 1)`` adds
slow noise; ``S_e = S̃ B`` is the effective stagnation with the **basin factor**
``B(x) ∈ [0.15, 1]`` (1 in the Urumqi–Changji–Shihezi foreland around Urumqi, lower in the open
Junggar basin and on the mountains, :func:`basin_factor`).

Season and sun
--------------
``W = max(0, cos 2π(d − 5)/365.2425)`` (``d`` days since 1 Jan): 0 before ~7 Oct and after
~5 Apr, 1 in early January. Solar declination ``δ`` gives the noon elevation
``I = cos(φ − δ)``, the day length ``L`` and a lagged daytime-heating shape
``D = max(0, sin π(h_s − 1.5 − 12 + L/2)/L)`` with the *solar* hour ``h_s = t_UTC + λ/15``
(the sun, not a time zone). ``D' = D (1 − 0.7 min(Σ s g_p, 1))`` (clouds of a front).

Fields (n_* are unit smooth noises of :class:`~forecast.synth.noise.SpatialNoise`)
--------------------------------------------------------------------------------
::

    t850 [°C] = 4 − 13.5 cos 2π(d−15)/365.2425 − 0.8(φ − 43.8) + A_r S̃ (0.35 + 0.65 W)
                − A_c Σ s g_c + 2 Σ s g_h + σ_850 n_850                    (warm air aloft)
    t2m  [°C] = t850 + Γ (1500 − z)/1000 + (1 + 4.5(1 − W)) D' − (1.5 + 3 S_e)(1 − D')
                − 10 S_e W + σ_2 n_2                          (cold pool under the inversion)
    u10, v10  = R (V_f Σ s g_w (sin θ, cos θ) + (1 − 0.9 S_e)(1.2 + σ_V n_u, 0.3 + σ_V n_v)
                + S_e T(x) (0, 0.7(1 − D) − 0.4 D))  [m/s]    (night drainage off the Tianshan,
                R = 1 + max(z − 1000, 0)/2500 on the mountains)
    blh [m]   = ((h_n + ΔH D')⁴ + (c_m |V| + 300 Σ s g_w)⁴)^¼ (1 + max(z − 1500, 0)/3000)
                · exp(σ_h n_h − σ_h²/2), clipped to 30…4500 m
                h_n = 70 + 430 (1 − S_e)(1 − 0.4 W)                      (stable night layer)
                ΔH = H_s max(I − 0.2, 0.05)(1 − 0.8 W S_e)(1 − 0.3 S_e)  (daytime growth)
    rh2m [%]  = 48 + 24 W + 12 S_e W − 18 D'(1 − 0.5 W) + 30 min(Σ s g_p, 1)
                − 10 Σ_{τ>0} s g_w + σ_rh n_rh, clipped to 10…100 %
    d2m       from t2m and rh2m by the Magnus formula (a = 17.625, b = 243.04 °C), ≤ t2m
    sp [hPa]  = p_msl exp(−z/H), H = 29.27 (t2m[K] + 0.00325 z) [m],
                p_msl = 1018 + 12 W + 7 S̃ − 4 Σ s g_h + 9 Σ s g_s + σ_p n_p
    tp [mm]   = P₀ Σ s g_p (1 + z/1500)(0.6 + 0.4(1 − W)) max(0, 1 + 0.7 n_tp) per hour;
                amounts < 0.02 mm → 0

``z`` is a smooth synthetic orography (:func:`orography`): the Junggar basin (~400 m), the
Tianshan ridge (~3,000 m above the foreland, 43°N) south of Urumqi (stations 500–800 m, the
0.5° grid ~900 m at Urumqi: sp ≈ 915 hPa), Bogda, the Dabancheng gap, the Turpan depression,
the Tarim basin (~1,100 m) and the Altai. The inversion ``t850 − t2m`` is ≈ +8…+12 K on stagnant
January nights (warm air aloft, "shallow foehn") and negative in mixed afternoons and behind
fronts; the BLH falls to ~100 m at night and 150–300 m by day in mid-winter stagnation (up to
~1,000 m by day in October) and reaches 800–1,500 m in fronts (wind 5–12 m/s).

Parameters (:class:`WeatherParams`)
-----------------------------------
==========================  =========  ========  ==============================================
name                        default    units     meaning
==========================  =========  ========  ==============================================
gap_mean_days               6.0        d         mean front spacing outside winter (Δ̄₀)
gap_winter_days             2.5        d         extra spacing at W = 1 (Δ̄_w)
gap_min_days                2.5        d         minimum spacing (Δ_min)
gap_shape                   3.0        1         gamma shape k
strength_mean, _sd          0.95, 0.35 1         front strength s (truncated to 0.3–1.7)
speed_kmh, speed_sd         40, 8      km/h      front speed c (25–60)
heading_deg, heading_sd     135, 12    degree    direction of motion (135 = towards SE)
clear_slope, clear_offset   1.15, 0.25 1         a, b in r = clip(a s − b, 0.1, 0.97)
winter_damping              0.1        1         d_w: winter/basin reduction of the clearing
build_hours                 80         h         τ_b: build-up of the anticyclone
stagnation_noise            0.12       1         σ_S
front_wind                  8.5        m/s       V_f: wind of a front of strength 1
front_cold                  9.0        K         A_c: cold advection of a front of strength 1
ridge_warming               4.0        K         A_r: warm air aloft under the ridge
lapse_rate                  7.0        K/km      Γ
mech_blh_per_ms             100        m/(m/s)   c_m: mechanically mixed layer per wind speed
solar_blh                   2070       m         H_s: daytime convective growth
precip_rate                 0.45       mm/h      P₀: peak rate of a front of strength 1
sigma_t850, sigma_t2m       2.2, 0.8   K         σ_850, σ_2
sigma_wind                  1.8        m/s       σ_V
sigma_blh                   0.18       1         σ_h (log BLH)
sigma_rh, sigma_sp          7, 2.5     %, hPa    σ_rh, σ_p
==========================  =========  ========  ==============================================

Noise components: knot spacing 24 h (t850, sp), 12 h (t2m, wind, blh, rh), 6 h (tp), 48 h
(stagnation); wavelengths 500–2,500 km (t850), 200–800 km (t2m), 300–1,500 km (wind, rh),
200–1,000 km (blh), 800–3,000 km (sp), 150–600 km (tp), 400–2,000 km (stagnation).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from forecast.synth.noise import (
    FloatArray,
    IntArray,
    SpatialNoise,
    Stream,
    stream,
)

REF_LON, REF_LAT = 87.6, 43.8
KM_PER_DEG_LAT = 110.57
KM_PER_DEG_LON = 111.32 * float(np.cos(np.deg2rad(REF_LAT)))
YEAR_DAYS = 365.2425
#: canonical met variables written by the generator, in file order.
MET_NAMES: tuple[str, ...] = ("blh", "u10", "v10", "t2m", "d2m", "t850", "rh2m", "sp", "tp")
_FRONT_BLOCK = 64


@dataclass(frozen=True)
class WeatherParams:
    """Tunable constants of the synthetic weather (see the module docstring for units)."""

    gap_mean_days: float = 6.0
    gap_winter_days: float = 2.5
    gap_min_days: float = 2.5
    gap_shape: float = 3.0
    strength_mean: float = 0.95
    strength_sd: float = 0.35
    strength_min: float = 0.3
    strength_max: float = 1.7
    speed_kmh: float = 40.0
    speed_sd: float = 8.0
    heading_deg: float = 135.0
    heading_sd: float = 12.0
    clear_slope: float = 1.15
    clear_offset: float = 0.25
    clear_min: float = 0.1
    clear_max: float = 0.97
    winter_damping: float = 0.1
    build_hours: float = 80.0
    stagnation_noise: float = 0.12
    front_wind: float = 8.5
    front_cold: float = 9.0
    ridge_warming: float = 4.0
    lapse_rate: float = 7.0
    mech_blh_per_ms: float = 100.0
    solar_blh: float = 2070.0
    precip_rate: float = 0.45
    sigma_t850: float = 2.2
    sigma_t2m: float = 0.8
    sigma_wind: float = 1.8
    sigma_blh: float = 0.18
    sigma_rh: float = 7.0
    sigma_sp: float = 2.5


# --------------------------------------------------------------------------------------------
# geography


def to_km(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    """lon/lat [degrees] → x, y [km] east/north of Urumqi (local equirectangular projection)."""
    return (np.asarray(lon) - REF_LON) * KM_PER_DEG_LON, (
        np.asarray(lat) - REF_LAT
    ) * KM_PER_DEG_LAT


def _gauss(
    lon: FloatArray, lat: FloatArray, lon0: float, lat0: float, slon: float, slat: float
) -> FloatArray:
    return np.exp(-0.5 * (((lon - lon0) / slon) ** 2 + ((lat - lat0) / slat) ** 2))


def ridge_latitude(lon: FloatArray) -> FloatArray:
    """Latitude of the Tianshan main ridge [degrees north] (smooth, 42.3°N at 80°E → 43.05°N)."""
    lon = np.asarray(lon, dtype=np.float64)
    return 43.05 - 0.75 / (1.0 + np.exp((lon - 82.5) / 1.2))


def orography(lon: FloatArray, lat: FloatArray) -> FloatArray:
    """Smooth synthetic surface height [m] of the domain (80–95°E, 40–48°N)."""
    lon = np.asarray(lon, dtype=np.float64)
    lat = np.asarray(lat, dtype=np.float64)
    rl = ridge_latitude(lon)
    north = 1.0 / (1.0 + np.exp(-(lat - rl) / 0.25))  # 1 north of the ridge
    d = np.maximum(lat - rl, 0.0)
    junggar = 400.0 + 1500.0 * np.exp(-d / 0.45)
    tarim = 1100.0 + 300.0 * np.exp(-np.maximum(rl - lat, 0.0) / 0.5)
    base = north * junggar + (1.0 - north) * tarim
    east_taper = 1.0 - 0.35 / (1.0 + np.exp(-(lon - 91.5) / 0.8))
    ridge = 3000.0 * east_taper * np.exp(-0.5 * ((lat - rl) / 0.22) ** 2)
    bogda = 2400.0 * _gauss(lon, lat, 88.6, 43.75, 0.35, 0.2)
    turpan = -2200.0 * _gauss(lon, lat, 89.5, 42.75, 0.9, 0.35)
    dabancheng_gap = -1400.0 * _gauss(lon, lat, 88.4, 43.3, 0.3, 0.25)
    altai = 1800.0 * _gauss(lon, lat, 89.5, 48.4, 2.0, 0.8)
    return np.maximum(base + ridge + bogda + turpan + dabancheng_gap + altai, -150.0)


def basin_factor(lon: FloatArray, lat: FloatArray, z: FloatArray) -> FloatArray:
    """Where cold pools form [1]: 1 in the Tianshan foreland around Urumqi, lower elsewhere."""
    lon = np.asarray(lon, dtype=np.float64)
    lat = np.asarray(lat, dtype=np.float64)
    corridor = _gauss(lon, lat, 87.4, 43.95, 1.8, 0.55)
    junggar = _gauss(lon, lat, 86.5, 45.0, 4.0, 1.5)
    geo = 0.45 + 0.55 * np.maximum(corridor, 0.75 * junggar)
    height = np.clip(1.0 - (np.asarray(z) - 1100.0) / 1100.0, 0.15, 1.0)
    return np.clip(geo * height, 0.15, 1.0)


# --------------------------------------------------------------------------------------------
# season and sun


def season_index(days: FloatArray) -> FloatArray:
    """W: 0 outside the cold season, 1 in early January [1]."""
    return np.maximum(np.cos(2.0 * np.pi * (days - 5.0) / YEAR_DAYS), 0.0)


def declination(days: FloatArray) -> FloatArray:
    """Solar declination [rad]."""
    return -np.deg2rad(23.44) * np.cos(2.0 * np.pi * (days + 10.0) / YEAR_DAYS)


def daytime_shape(
    hours: IntArray, lon: FloatArray, lat: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """(D, I): lagged daytime heating shape [0, 1] (T, P) and noon solar height sine (T, P)."""
    days = (hours / 24.0)[:, None]
    dec = declination(days)
    phi = np.deg2rad(lat)[None, :]
    cosw = np.clip(-np.tan(phi) * np.tan(dec), -1.0, 1.0)
    length = 24.0 / np.pi * np.arccos(cosw)  # day length [h]
    solar = np.mod((hours % 24)[:, None] + lon[None, :] / 15.0, 24.0)
    x = (solar - 1.5 - (12.0 - length / 2.0)) / length
    shape = np.where((x > 0.0) & (x < 1.0), np.sin(np.pi * np.clip(x, 0.0, 1.0)), 0.0)
    return shape, np.cos(phi - dec)


# --------------------------------------------------------------------------------------------
# fronts


@dataclass(frozen=True)
class Fronts:
    """A catalogue of cold fronts: passage at Urumqi [h since epoch], strength, speed, heading."""

    t_ref: FloatArray
    strength: FloatArray
    speed: FloatArray  # [km/h]
    heading: FloatArray  # [rad], direction of motion clockwise from north

    @classmethod
    def generate(cls, seed: int, until_hour: float, params: WeatherParams) -> Fronts:
        """Fronts from the epoch until ``until_hour`` (prefix-stable: a longer catalogue
        starts with the same fronts), drawn in fixed blocks from one stream."""
        rng = stream(seed, Stream.FRONTS)
        t, times, strength, speed, heading = 0.0, [], [], [], []
        p = params
        while t <= until_hour:
            gam = rng.standard_gamma(p.gap_shape, _FRONT_BLOCK)
            s = rng.normal(p.strength_mean, p.strength_sd, _FRONT_BLOCK)
            c = rng.normal(p.speed_kmh, p.speed_sd, _FRONT_BLOCK)
            h = rng.normal(p.heading_deg, p.heading_sd, _FRONT_BLOCK)
            for i in range(_FRONT_BLOCK):
                w = float(season_index(np.array(t / 24.0)))
                mean = p.gap_mean_days + p.gap_winter_days * w
                gap = p.gap_min_days + gam[i] * (mean - p.gap_min_days) / p.gap_shape
                t += 24.0 * gap
                times.append(t)
            strength.append(np.clip(s, p.strength_min, p.strength_max))
            speed.append(np.clip(c, 25.0, 60.0))
            heading.append(np.deg2rad(np.clip(h, 100.0, 170.0)))
        n = len(times)
        return cls(
            np.array(times),
            np.concatenate(strength)[:n],
            np.concatenate(speed)[:n],
            np.concatenate(heading)[:n],
        )

    def perturbed(self, seed: int, init_hour: int) -> Fronts:
        """The fronts as a forecast initialised at ``init_hour`` sees them: each later front
        arrives off by N(0, (0.1·lead)²) h with strength × exp(N(0, (0.15·lead/72)²))."""
        lead = self.t_ref - init_hour
        later = np.flatnonzero(lead > 0)
        t_ref, strength = self.t_ref.copy(), self.strength.copy()
        if later.size:
            rng = stream(seed, Stream.FORECAST_FRONTS, init_hour)
            z = rng.standard_normal((later.size, 2))
            t_ref[later] += z[:, 0] * 0.1 * lead[later]
            strength[later] = np.clip(
                strength[later] * np.exp(z[:, 1] * 0.15 * lead[later] / 72.0), 0.2, 2.0
            )
        order = np.argsort(t_ref, kind="stable")
        return replace(
            self,
            t_ref=t_ref[order],
            strength=strength[order],
            speed=self.speed[order],
            heading=self.heading[order],
        )

    def passage(self, x: FloatArray, y: FloatArray) -> FloatArray:
        """Passage times t_i(x) [h since epoch], shape (K, P)."""
        along = (
            np.sin(self.heading)[:, None] * x[None, :] + np.cos(self.heading)[:, None] * y[None, :]
        )
        return self.t_ref[:, None] + along / self.speed[:, None]


# --------------------------------------------------------------------------------------------
# points


@dataclass
class PointSet:
    """Points at which the weather is evaluated (grid cells or stations)."""

    lon: FloatArray
    lat: FloatArray
    x: FloatArray = field(init=False)
    y: FloatArray = field(init=False)
    z: FloatArray = field(init=False)
    basin: FloatArray = field(init=False)
    drainage: FloatArray = field(init=False)
    bases: dict[int, dict[str, FloatArray]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.lon = np.asarray(self.lon, dtype=np.float64)
        self.lat = np.asarray(self.lat, dtype=np.float64)
        self.x, self.y = to_km(self.lon, self.lat)
        self.z = orography(self.lon, self.lat)
        self.basin = basin_factor(self.lon, self.lat, self.z)
        # Night drainage flows (downslope, northward) within ~1° north of the ridge.
        self.drainage = np.exp(-0.5 * ((self.lat - ridge_latitude(self.lon) - 0.7) / 0.5) ** 2)

    @property
    def size(self) -> int:
        return int(self.lon.size)


@dataclass
class FrontState:
    """Front passage times and post-front stagnation at each point, for stored fronts."""

    fronts: Fronts
    first: int  # index of the first stored front
    t_pass: FloatArray  # (K, P)
    s_after: FloatArray  # (K, P)

    @classmethod
    def build(
        cls, fronts: Fronts, points: PointSet, first_hour: float, params: WeatherParams
    ) -> FrontState:
        """Run the stagnation recursion from the first front (at the epoch) and keep fronts
        from the last one passing Urumqi before ``first_hour`` − 4 days on."""
        first = max(int(np.searchsorted(fronts.t_ref, first_hour - 96.0)) - 1, 0)
        t_pass = fronts.passage(points.x, points.y)
        p = params
        s_prev = np.full(points.size, 0.3)
        t_prev = t_pass[0]
        s_after = np.empty((fronts.t_ref.size - first, points.size))
        for k in range(fronts.t_ref.size):
            before = 1.0 - (1.0 - s_prev) * np.exp(-(t_pass[k] - t_prev) / p.build_hours)
            w = float(season_index(np.array(fronts.t_ref[k] / 24.0)))
            clear = np.clip(
                p.clear_slope * fronts.strength[k] - p.clear_offset, p.clear_min, p.clear_max
            ) * (1.0 - p.winter_damping * w * points.basin)
            s_prev = before * (1.0 - clear) if k else s_prev
            t_prev = t_pass[k]
            if k >= first:
                s_after[k - first] = s_prev
        return cls(fronts, first, t_pass[first:], s_after)

    def window(self, t0: float, t1: float) -> range:
        """Stored fronts that matter for hours t0…t1: from the last one that passed every
        point before t0 − 20 days to those arriving up to 6 days after t1."""
        ref = self.fronts.t_ref[self.first :]
        lo = max(int(np.searchsorted(ref, t0 - 20 * 24.0 - 72.0)) - 1, 0)
        hi = int(np.searchsorted(ref, t1 + 144.0))
        return range(lo, min(hi, ref.size))


# --------------------------------------------------------------------------------------------
# the weather model


@dataclass
class Noises:
    t850: SpatialNoise
    t2m: SpatialNoise
    u: SpatialNoise
    v: SpatialNoise
    blh: SpatialNoise
    rh: SpatialNoise
    sp: SpatialNoise
    tp: SpatialNoise
    stag: SpatialNoise

    @classmethod
    def build(cls, seed: int) -> Noises:
        def n(
            component: int,
            spacing: int,
            min_km: float = 300.0,
            max_km: float = 1500.0,
            modes: int = 16,
        ) -> SpatialNoise:
            return SpatialNoise(
                seed, (component,), modes=modes, spacing=spacing, min_km=min_km, max_km=max_km
            )

        return cls(
            t850=n(Stream.T850, spacing=24, min_km=500.0, max_km=2500.0),
            t2m=n(Stream.T2M, spacing=12, min_km=200.0, max_km=800.0),
            u=n(Stream.WIND_U, spacing=12),
            v=n(Stream.WIND_V, spacing=12),
            blh=n(Stream.BLH, spacing=12, min_km=200.0, max_km=1000.0),
            rh=n(Stream.RH, spacing=12),
            sp=n(Stream.SP, spacing=24, min_km=800.0, max_km=3000.0),
            tp=n(Stream.TP, spacing=6, min_km=150.0, max_km=600.0),
            stag=n(Stream.STAGNATION, spacing=48, modes=12, min_km=400.0, max_km=2000.0),
        )

    def items(self) -> list[tuple[str, SpatialNoise]]:
        return [
            (name, getattr(self, name))
            for name in ("t850", "t2m", "u", "v", "blh", "rh", "sp", "tp", "stag")
        ]


def dewpoint(t2m_c: FloatArray, rh: FloatArray) -> FloatArray:
    """Dew point [°C] from temperature [°C] and relative humidity [%] (Magnus, over water)."""
    a, b = 17.625, 243.04
    gamma = np.log(np.clip(rh, 1.0, 100.0) / 100.0) + a * t2m_c / (b + t2m_c)
    return np.minimum(b * gamma / (a - gamma), t2m_c)


class WeatherModel:
    """Evaluates the synthetic weather at any hours and points (see the module docstring)."""

    def __init__(self, seed: int, until_hour: float, params: WeatherParams | None = None) -> None:
        self.seed = seed
        self.params = params or WeatherParams()
        self.fronts = Fronts.generate(seed, until_hour, self.params)
        self.noises = Noises.build(seed)

    def bases(self, points: PointSet, noises: Noises) -> dict[str, FloatArray]:
        key = id(noises)
        if key not in points.bases:
            points.bases[key] = {n: s.basis(points.x, points.y) for n, s in noises.items()}
        return points.bases[key]

    def fields(
        self, hours: IntArray, points: PointSet, state: FrontState, noises: Noises | None = None
    ) -> dict[str, FloatArray]:
        """Every met variable at ``hours`` (T,) and ``points`` (P), shape (T, P), float64, in the
        canonical units (blh m, u10/v10 m/s, t2m/d2m/t850 K, rh2m %, sp hPa, tp mm/h), plus the
        diagnostics ``stagnation`` (S_e) and ``wind_speed``."""
        p = self.params
        noises = noises or self.noises
        basis = self.bases(points, noises)
        hours = np.asarray(hours, dtype=np.int64)
        t = hours.astype(np.float64)[:, None]
        days = t / 24.0
        w = season_index(days)  # (T, 1)
        n = {name: s.at(hours, basis[name]) for name, s in noises.items()}

        # fronts: stagnation since the last passage and the pulses of nearby fronts
        window = state.window(float(t[0, 0]), float(t[-1, 0]))
        shape = (hours.size, points.size)
        s_last = np.broadcast_to(state.s_after[window.start], shape).copy()
        t_last = np.broadcast_to(state.t_pass[window.start], shape).copy()
        gw = np.zeros(shape)
        gw_after = np.zeros(shape)
        gc = np.zeros(shape)
        gh = np.zeros(shape)
        gp = np.zeros(shape)
        gs = np.zeros(shape)
        fu = np.zeros(shape)
        fv = np.zeros(shape)
        fronts = state.fronts
        for k in window:
            tk = state.t_pass[k][None, :]
            passed = tk <= t
            if k > window.start:
                s_last = np.where(passed, state.s_after[k][None, :], s_last)
                t_last = np.where(passed, tk, t_last)
            s = fronts.strength[state.first + k]
            tau = t - tk
            after = np.maximum(tau, 0.0)
            g_wind = np.where(passed, np.exp(-after / 15.0), np.exp(-0.5 * (tau / 3.5) ** 2))
            gw += s * g_wind
            gw_after += np.where(passed, s * g_wind, 0.0)
            heading = fronts.heading[state.first + k]
            fu += s * g_wind * np.sin(heading)
            fv += s * g_wind * np.cos(heading)
            gc += np.where(passed, s * (1.0 - np.exp(-after / 5.0)) * np.exp(-after / 48.0), 0.0)
            gh += s * np.exp(-0.5 * ((tau + 15.0) / 10.0) ** 2)
            gp += s * np.exp(-0.5 * ((tau - 1.0) / 4.0) ** 2)
            gs += np.where(passed, s * (1.0 - np.exp(-after / 6.0)) * np.exp(-after / 72.0), 0.0)
        stag = 1.0 - (1.0 - s_last) * np.exp(-(t - t_last) / p.build_hours)
        stag = np.clip(stag + p.stagnation_noise * n["stag"], 0.0, 1.0)
        s_e = stag * points.basin[None, :]

        lon, lat, z = points.lon, points.lat, points.z[None, :]
        daytime, sun = daytime_shape(hours, lon, lat)
        wet = np.minimum(gp, 1.0)
        d_eff = daytime * (1.0 - 0.7 * wet)

        t850 = (
            4.0
            - 13.5 * np.cos(2.0 * np.pi * (days - 15.0) / YEAR_DAYS)
            - 0.8 * (lat[None, :] - REF_LAT)
            + p.ridge_warming * stag * (0.35 + 0.65 * w)
            - p.front_cold * gc
            + 2.0 * gh
            + p.sigma_t850 * n["t850"]
        )
        t2m = (
            t850
            + p.lapse_rate * (1500.0 - z) / 1000.0
            + (1.0 + 4.5 * (1.0 - w)) * d_eff
            - (1.5 + 3.0 * s_e) * (1.0 - d_eff)
            - 10.0 * s_e * w
            + p.sigma_t2m * n["t2m"]
        )

        calm = 1.0 - 0.9 * s_e
        drain = s_e * points.drainage[None, :] * (0.7 * (1.0 - daytime) - 0.4 * daytime)
        relief = 1.0 + np.maximum(z - 1000.0, 0.0) / 2500.0
        u10 = (p.front_wind * fu + calm * (1.2 + p.sigma_wind * n["u"])) * relief
        v10 = (p.front_wind * fv + calm * (0.3 + p.sigma_wind * n["v"]) + drain) * relief
        speed = np.hypot(u10, v10)

        h_night = 70.0 + 430.0 * (1.0 - s_e) * (1.0 - 0.4 * w)
        growth = (
            p.solar_blh * np.maximum(sun - 0.2, 0.05) * (1.0 - 0.8 * w * s_e) * (1.0 - 0.3 * s_e)
        )
        h_conv = h_night + growth * d_eff
        h_mech = p.mech_blh_per_ms * speed + 300.0 * gw
        blh = (h_conv**4 + h_mech**4) ** 0.25
        blh = blh * (1.0 + np.maximum(z - 1500.0, 0.0) / 3000.0)
        blh = np.clip(blh * np.exp(p.sigma_blh * n["blh"] - 0.5 * p.sigma_blh**2), 30.0, 4500.0)

        rh = np.clip(
            48.0
            + 24.0 * w
            + 12.0 * s_e * w
            - 18.0 * d_eff * (1.0 - 0.5 * w)
            + 30.0 * wet
            - 10.0 * gw_after
            + p.sigma_rh * n["rh"],
            10.0,
            100.0,
        )
        d2m = dewpoint(t2m, rh)

        p_msl = 1018.0 + 12.0 * w + 7.0 * stag - 4.0 * gh + 9.0 * gs + p.sigma_sp * n["sp"]
        scale_height = 29.27 * (t2m + 273.15 + 0.00325 * z)
        sp = p_msl * np.exp(-z / scale_height)

        tp = (
            p.precip_rate
            * gp
            * (1.0 + np.maximum(z, 0.0) / 1500.0)
            * (0.6 + 0.4 * (1.0 - w))
            * np.maximum(0.0, 1.0 + 0.7 * n["tp"])
        )
        tp = np.where(tp < 0.02, 0.0, tp)

        return {
            "blh": blh,
            "u10": u10,
            "v10": v10,
            "t2m": t2m + 273.15,
            "d2m": d2m + 273.15,
            "t850": t850 + 273.15,
            "rh2m": rh,
            "sp": sp,
            "tp": tp,
            "stagnation": s_e,
            "wind_speed": speed,
        }
