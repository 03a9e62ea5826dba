r"""PM2.5 at every station from a one-box model, and the other pollutants the network publishes.

Box model (per station, hourly, UTC)
------------------------------------
The well-mixed boundary layer of height ``h = max(blh, h_min)`` over a station receives the
surface emission flux ``E`` and loses PM2.5 by ventilation, wet scavenging, dry deposition and
dilution when the layer deepens (entrainment of residual-layer air holding a fraction ``α`` of
the concentration)::

    dC/dt = E/h + k_v C_bg − k C,        k = k_v + k_wet·tp + k_dep + k_e
    k_v = k_vent · u / L                 (u: 10 m wind speed at the station)
    k_e = (1 − α) · max(h_t − h_{t−1}, 0) / h_t   per hour

The brief's explicit step ``C[t+1] = C[t] + Δt (E/h − C (k_vent u/L + k_wet tp + k_dep))`` is
the first-order expansion of this equation; it is integrated instead with the exact step for
forcing held constant over the hour, ``C[t+1] = C_eq + (C[t] − C_eq) e^{−kΔt}``,
``C_eq = (E/h + k_v C_bg)/k``, which stays positive and stable when ``kΔt > 1`` (fronts). The
published hourly value labelled HH:00 is the mean over the hour ending then, ``(C[t−1] + C[t])/2``.

Emissions::

    E = E_U · f_city · f_station · H(t) · P(h_BJT)
          · exp(σ_c n_city + σ_s n_station − (σ_c² + σ_s²)/2)
    H = 1 + A_heat · clip((16 − t2m[°C]) / 28, 0.2, 1)  from 10 Oct to 10 Apr (Beijing dates),
        else 1
    P = diurnal profile (Beijing hour): morning (09) and evening (20–21) peaks, night minimum,
        mean 1
    f_city = 1 (Urumqi), 0.66 (Changji), 0.70 (Shihezi), 0.55 (Wujiaqu)
    f_station = 0.45 + 0.55 exp(−(d/20 km)²) · lognormal(σ 0.12)   (d: distance to the city
                centre); reference (对照点) sites: 0.22 · lognormal(σ 0.12)

``n_city`` (one series per city, 24-h knots) correlates the stations of a city; ``n_station``
(12-h knots) is the small station-specific part.

Other pollutants (diagnostic, µg/m³; CO mg/m³), from the hourly PM2.5 mean ``c`` and the
weather::

    PM10 = c / r + dust,   r = 0.5 + 0.3 / (1 + exp(−(c − 80)/50)),
                           dust = 12 max(|V| − 6, 0)^1.5 (1 − W)       (no dust on snow)
    NO2  = 32 f_station^½ P(h) (300/h)^0.35 (1.5/max(u, 0.5))^0.3 H^0.3
    CO   = 0.3 + 0.011 c + 0.004 NO2
    SO2  = 3 + 0.03 c H^0.5
    O3   = (O3_bg + 20 (1 − S_e)) (0.25 + 0.75 D) exp(−NO2/60),
           O3_bg = 55 + 25 cos 2π(d − 172)/365.2425                    (titrated in episodes)

Each published value gets measurement noise ``x · exp(σ_rel ε₁) + σ_abs ε₂`` (σ_abs: PM2.5 2,
PM10 3, SO2 1, NO2 2, O3 2 µg/m³, CO 0.05 mg/m³) and is rounded as the network publishes it
(integers ≥ 1, CO one decimal ≥ 0.1).

Parameters (:class:`PollutionParams`)
-------------------------------------
======================  ========  ==============  ============================================
name                    default   units           meaning
======================  ========  ==============  ============================================
emission_urumqi         385       µg m⁻² h⁻¹      E_U: Urumqi base emission flux (f_city = 1)
heating_amplitude       1.6       1               A_heat: heating-season emission increase
k_vent                  1.0       1               ventilation efficiency
vent_length_km          300       km              L: basin ventilation length scale
k_wet                   0.3       1/mm            wet scavenging per mm of precipitation
k_dep                   0.005     1/h             dry deposition + chemical loss
h_min                   50        m               lowest mixing height used
residual_fraction       0.7       1               α: concentration of entrained residual air / C
background              8         µg/m³           C_bg: regional background
sigma_city              0.18      1               σ_c: city emission variability (log)
sigma_station           0.10      1               σ_s: station emission variability (log)
meas_rel, meas_abs      0.05, 2   1, µg/m³        measurement noise (relative, absolute)
initial                 30        µg/m³           C at the start of the spin-up
======================  ========  ==============  ============================================
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from forecast.synth.network import CITY_EMISSION, Network
from forecast.synth.noise import GROUP_SIZE, FloatArray, IntArray, KnotNoise, Stream, stream
from forecast.synth.weather import YEAR_DAYS, season_index, to_km

#: Published pollutant variables, in the order of the measurement-noise draws.
POLLUTANTS: tuple[str, ...] = ("pm25", "pm10", "so2", "no2", "co", "o3")


@dataclass(frozen=True)
class PollutionParams:
    emission_urumqi: float = 385.0
    heating_amplitude: float = 1.6
    k_vent: float = 1.0
    vent_length_km: float = 300.0
    k_wet: float = 0.3
    k_dep: float = 0.005
    h_min: float = 50.0
    residual_fraction: float = 0.7
    background: float = 8.0
    sigma_city: float = 0.18
    sigma_station: float = 0.10
    meas_rel: float = 0.05
    meas_abs: float = 2.0
    initial: float = 30.0


def diurnal_profile(hour_bjt: IntArray) -> FloatArray:
    """Emission profile by Beijing hour [1], mean 1 over the day."""
    h = np.arange(24.0)
    raw = (
        1.0
        + 0.45 * np.exp(-0.5 * ((h - 9.0) / 1.5) ** 2)
        + 0.7 * np.exp(-0.5 * ((h - 20.5) / 2.2) ** 2)
        - 0.35 * np.exp(-0.5 * ((h - 4.0) / 2.0) ** 2)
    )
    raw = raw / raw.mean()
    return raw[np.asarray(hour_bjt, dtype=np.int64)]


def heating_on(month: IntArray, day: IntArray) -> npt.NDArray[np.bool_]:
    """Urumqi's heating season, 10 Oct – 10 Apr inclusive (Beijing calendar dates)."""
    md = np.asarray(month) * 100 + np.asarray(day)
    return (md >= 1010) | (md <= 410)


def station_factors(seed: int, network: Network) -> FloatArray:
    """f_city · f_station of every station [1] (static; group-wise streams)."""
    out = np.empty(len(network.stations))
    draws: dict[int, FloatArray] = {}
    for i, st in enumerate(network.stations):
        if st.group not in draws:
            draws[st.group] = stream(seed, Stream.STATION_STATIC, st.group).standard_normal(
                GROUP_SIZE
            )
        lon0, lat0 = network.centre(st.city)
        x, y = to_km(np.array([st.lon - lon0 + 87.6]), np.array([st.lat - lat0 + 43.8]))
        d = float(np.hypot(x[0], y[0]))
        f = 0.22 if st.reference_site else 0.45 + 0.55 * np.exp(-((d / 20.0) ** 2))
        out[i] = CITY_EMISSION.get(st.city, 0.6) * f * np.exp(0.12 * draws[st.group][st.member])
    return out


class GroupNoise:
    """Knot noise of every station, drawn group by group (see forecast.synth.noise)."""

    def __init__(self, seed: int, component: int, network: Network, spacing: int) -> None:
        self.series = {
            g: KnotNoise(seed, (component, g), GROUP_SIZE, spacing) for g in network.groups
        }
        self.group = network.array("group")
        self.member = network.array("member")

    def at(self, hours: IntArray) -> FloatArray:
        out = np.empty((len(hours), self.group.size))
        for g, series in self.series.items():
            sel = self.group == g
            out[:, sel] = series.at(hours)[:, self.member[sel]]
        return out


class BoxModel:
    """The station box models with their state (carried across days and chunks)."""

    def __init__(self, seed: int, network: Network, params: PollutionParams | None = None) -> None:
        self.p = params or PollutionParams()
        self.factor = station_factors(seed, network)
        self.city = network.city_index
        self.city_noise = KnotNoise(seed, (Stream.CITY_EMISSION,), len(network.cities), 24)
        self.station_noise = GroupNoise(seed, Stream.STATION_EMISSION, network, 12)
        n = len(network.stations)
        self.c = np.full(n, self.p.initial)
        self.h_prev: FloatArray | None = None

    def emissions(
        self, hours: IntArray, hour_bjt: IntArray, heating: FloatArray, t2m_k: FloatArray
    ) -> FloatArray:
        """E [µg m⁻² h⁻¹], shape (T, P)."""
        p = self.p
        demand = np.clip((16.0 - (t2m_k - 273.15)) / 28.0, 0.2, 1.0)
        heat = 1.0 + p.heating_amplitude * heating[:, None] * demand
        noise = (
            p.sigma_city * self.city_noise.at(hours)[:, self.city]
            + p.sigma_station * self.station_noise.at(hours)
            - 0.5 * (p.sigma_city**2 + p.sigma_station**2)
        )
        return (
            p.emission_urumqi
            * self.factor[None, :]
            * heat
            * diurnal_profile(hour_bjt)[:, None]
            * np.exp(noise)
        )

    def run(
        self, emission: FloatArray, blh: FloatArray, speed: FloatArray, tp: FloatArray
    ) -> tuple[FloatArray, FloatArray]:
        """Integrate hour by hour; returns (C at the end of each hour, hourly means), (T, P)."""
        p = self.p
        h_all = np.maximum(blh, p.h_min)
        out = np.empty_like(h_all)
        mean = np.empty_like(h_all)
        if self.h_prev is None:
            self.h_prev = h_all[0].copy()
        k_v_all = p.k_vent * speed * 3.6 / p.vent_length_km  # (m/s → km/h) / km = 1/h
        for i in range(h_all.shape[0]):
            h = h_all[i]
            k_v = k_v_all[i]
            k_e = (1.0 - p.residual_fraction) * np.maximum(h - self.h_prev, 0.0) / h
            k = k_v + p.k_wet * tp[i] + p.k_dep + k_e
            c_eq = (emission[i] / h + k_v * p.background) / k
            c_new = c_eq + (self.c - c_eq) * np.exp(-k)
            mean[i] = 0.5 * (self.c + c_new)
            self.c = c_new
            self.h_prev = h
            out[i] = c_new
        return out, mean


def diagnose(
    pm25: FloatArray,
    met: dict[str, FloatArray],
    factor: FloatArray,
    heating: FloatArray,
    hour_bjt: IntArray,
    hours: IntArray,
    daytime: FloatArray,
    p: PollutionParams,
) -> dict[str, FloatArray]:
    """The other pollutants from the hourly PM2.5 mean ``pm25`` and the weather, (T, P)."""
    speed = met["wind_speed"]
    h = np.maximum(met["blh"], 50.0)
    days = (hours / 24.0)[:, None]
    w = season_index(days)
    demand = np.clip((16.0 - (met["t2m"] - 273.15)) / 28.0, 0.2, 1.0)
    heat = 1.0 + p.heating_amplitude * heating[:, None] * demand
    ratio = 0.5 + 0.3 / (1.0 + np.exp(-(pm25 - 80.0) / 50.0))
    dust = 12.0 * np.maximum(speed - 6.0, 0.0) ** 1.5 * (1.0 - w)
    pm10 = pm25 / ratio + dust
    no2 = (
        32.0
        * np.sqrt(factor)[None, :]
        * diurnal_profile(hour_bjt)[:, None]
        * (300.0 / h) ** 0.35
        * (1.5 / np.maximum(speed, 0.5)) ** 0.3
        * heat**0.3
    )
    co = 0.3 + 0.011 * pm25 + 0.004 * no2
    so2 = 3.0 + 0.03 * pm25 * np.sqrt(heat)
    o3_bg = 55.0 + 25.0 * np.cos(2.0 * np.pi * (days - 172.0) / YEAR_DAYS)
    o3 = (o3_bg + 20.0 * (1.0 - met["stagnation"])) * (0.25 + 0.75 * daytime) * np.exp(-no2 / 60.0)
    return {"pm25": pm25, "pm10": pm10, "so2": so2, "no2": no2, "co": co, "o3": o3}


def measure(
    true: dict[str, FloatArray], noise: FloatArray, p: PollutionParams
) -> dict[str, FloatArray]:
    """Published values: measurement noise and the network's rounding. ``noise`` is
    (T, 2·len(POLLUTANTS), P) standard normal draws."""
    out = {}
    scale_abs = {"pm25": p.meas_abs, "pm10": 3.0, "so2": 1.0, "no2": 2.0, "co": 0.05, "o3": 2.0}
    for j, name in enumerate(POLLUTANTS):
        x = (
            true[name] * np.exp(p.meas_rel * noise[:, 2 * j])
            + scale_abs[name] * noise[:, 2 * j + 1]
        )
        if name == "co":
            out[name] = np.maximum(np.round(x, 1), 0.1)
        else:
            out[name] = np.maximum(np.round(x), 1.0)
    return out
