"""From measured hourly values to the network's release: faults, 24-hour columns, AQI.

Faults (planned up front from the seed; recorded in the manifest)
-----------------------------------------------------------------
- **missing hours**: each station-hour's row is dropped with probability ``p_missing``
  (independent draws per UTC day and station group), and single gas cells (SO2, NO2, CO, O3)
  are left empty with probability ``p_cell``;
- **outage**: one real, non-reference station publishes no row for ``outage_hours``
  consecutive hours;
- **stuck sensor**: another real, non-reference station's PM2.5 repeats one value for
  ``stuck_hours`` hours, starting at the first published value ≥ 10 µg/m³ at or after the
  planned start (so that quality control can recognise it: its rule ignores runs ≤ 5 µg/m³).
  The other pollutants of that station stay correct; the 24-h PM2.5 column includes the
  stuck values, as the network's own averaging would.

Faults occur only inside the observation period (never in the spin-up), and every hour keeps
at least one station row.

Release columns
---------------
``X_24h`` is the mean of the published hourly values of the last 24 hours (this one included;
missing hours skipped), ``o3_24h`` their maximum (the real archive swaps o3 and o3_24h; here
they are not swapped, so o3_24h ≥ o3), ``o3_8h`` the mean of the last 8 hourly O3 values (≥ 6
valid) and ``o3_8h_24h`` the maximum of ``o3_8h`` over the last 24 hours. ``aqi`` is HJ 633's
AQI (:func:`forecast.aqi.aqi`) of the published ``pm2_5_24h`` and ``pm10_24h`` with the
configuration's standard; ``primarypollutant`` is 细颗粒物(PM2.5) or 颗粒物(PM10) (the higher IAQI;
PM2.5 on ties) when AQI > 50, else empty. Integers as the network publishes them; CO in mg/m³
with one decimal.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from forecast.aqi import Standard, aqi, iaqi
from forecast.synth.network import Network
from forecast.synth.noise import GROUP_SIZE, FloatArray, IntArray, Stream, day_draws, stream
from forecast.synth.pollution import POLLUTANTS
from forecast.synth.writer import PRIMARY_PM10, PRIMARY_PM25

GASES: tuple[str, ...] = ("so2", "no2", "co", "o3")
HISTORY = 23


@dataclass
class FaultPlan:
    """Planned faults and their state while the run goes on (hours are UTC since the epoch)."""

    p_missing: float
    p_cell: float
    outage_station: int | None = None
    outage_start: int = 0
    outage_hours: int = 0
    stuck_station: int | None = None
    stuck_planned: int = 0
    stuck_hours: int = 0
    # state
    stuck_start: int | None = None
    stuck_value: float = float("nan")
    stuck_left: int = 0
    missing: list[tuple[int, int, str]] = field(default_factory=list)  # (hour, station, cause)

    @classmethod
    def plan(
        cls,
        seed: int,
        network: Network,
        first_hour: int,
        last_hour: int,
        *,
        enabled: bool = True,
        p_missing: float = 0.005,
        p_cell: float = 0.002,
        outage_hours: int = 20,
        stuck_hours: int = 12,
    ) -> FaultPlan:
        if not enabled:
            return cls(0.0, 0.0)
        rng = stream(seed, Stream.FAULTS)
        candidates = [i for i, s in enumerate(network.stations) if s.real and not s.reference_site]
        picks = rng.permutation(len(candidates))
        span = last_hour - first_hour + 1
        margin = min(48, span // 4)

        def start(length: int) -> int:
            lo = first_hour + margin
            hi = max(lo, last_hour - margin - length)
            return int(lo + rng.integers(0, hi - lo + 1))

        plan = cls(p_missing, p_cell)
        if candidates:
            plan.outage_station = candidates[int(picks[0])]
            plan.outage_hours = min(outage_hours, max(span // 3, 1))
            plan.outage_start = start(plan.outage_hours)
        if len(candidates) > 1:
            plan.stuck_station = candidates[int(picks[1])]
            plan.stuck_hours = stuck_hours
            plan.stuck_planned = start(stuck_hours + 24)
        return plan

    def manifest(self, network: Network, label: Any) -> dict[str, Any]:
        """The faults as recorded in the manifest; ``label(hour)`` → Beijing time text."""
        out: dict[str, Any] = {}
        if self.outage_station is not None:
            code = network.stations[self.outage_station].code
            out["outage"] = {
                "station": code,
                "hours": self.outage_hours,
                "first_missing_beijing": label(self.outage_start),
                "last_missing_beijing": label(self.outage_start + self.outage_hours - 1),
                "what": "no row in the hourly files for these hours",
            }
        if self.stuck_station is not None:
            code = network.stations[self.stuck_station].code
            entry: dict[str, Any] = {
                "station": code,
                "variable": "pm2_5",
                "hours": self.stuck_hours,
                "planned_start_beijing": label(self.stuck_planned),
            }
            if self.stuck_start is not None:
                entry |= {
                    "first_beijing": label(self.stuck_start),
                    "last_beijing": label(self.stuck_start + self.stuck_hours - 1),
                    "value": self.stuck_value,
                    "what": "pm2_5 repeats one value; QC should flag pm25_stuck",
                }
            else:
                entry["what"] = "not injected (no PM2.5 value ≥ 10 after the planned start)"
            out["stuck_sensor"] = entry
        return out


class Publisher:
    """Turns measured hourly values into release rows, carrying 23 hours of history."""

    def __init__(self, network: Network, standard: Standard, seed: int, faults: FaultPlan) -> None:
        self.network = network
        self.standard = standard
        self.seed = seed
        self.faults = faults
        n = len(network.stations)
        self.hist = {v: np.full((HISTORY, n), np.nan) for v in (*POLLUTANTS, "o3_8h")}
        self.group = network.array("group")
        self.member = network.array("member")

    def _draws(self, day: int, shape_per_group: tuple[int, ...]) -> FloatArray:
        """Uniform draws of one UTC day for every station, shape (*shape_per_group, P)."""
        out = np.empty((*shape_per_group, self.group.size))
        for g in sorted(set(self.group.tolist())):
            sel = self.group == g
            u = day_draws(
                self.seed, Stream.MISSING, day, g, (*shape_per_group, GROUP_SIZE), normal=False
            )
            out[..., sel] = u[..., self.member[sel]]
        return out

    def publish_day(
        self, day: int, hours: IntArray, measured: dict[str, FloatArray], in_obs: np.ndarray
    ) -> dict[str, Any]:
        """One UTC day (24 hours): faults, trailing windows, AQI.

        ``in_obs`` (24,) bool marks the hours that belong to the observation period. Returns
        arrays (24, P): ``present`` (row published), every release column, ``primary``
        (list of 24 lists of P strings).
        """
        f = self.faults
        n = self.group.size
        values = {v: measured[v].copy() for v in POLLUTANTS}
        u = self._draws(day, (24, 1 + len(GASES)))
        present = np.ones((24, n), dtype=bool)
        for i in range(24):
            if not in_obs[i]:
                continue
            hour = int(hours[i])
            row_missing = u[i, 0] < f.p_missing
            for j in np.flatnonzero(row_missing).tolist():
                f.missing.append((hour, j, "random"))
            if f.outage_station is not None and (
                f.outage_start <= hour < f.outage_start + f.outage_hours
            ):
                row_missing[f.outage_station] = True
                f.missing.append((hour, f.outage_station, "outage"))
            q = f.stuck_station
            if q is not None:
                if f.stuck_start is None and hour >= f.stuck_planned and values["pm25"][i, q] >= 10:
                    f.stuck_start, f.stuck_value, f.stuck_left = (
                        hour,
                        float(values["pm25"][i, q]),
                        f.stuck_hours,
                    )
                if f.stuck_left > 0:
                    values["pm25"][i, q] = f.stuck_value
                    if row_missing[q]:
                        row_missing[q] = False
                        f.missing = [m for m in f.missing if m[:2] != (hour, q)]
                    f.stuck_left -= 1
            if row_missing.all():
                row_missing[np.argmax(row_missing)] = False
                f.missing = [m for m in f.missing if m[:2] != (hour, 0)]
            present[i] = ~row_missing
            for k, gas in enumerate(GASES):
                empty = (u[i, 1 + k] < f.p_cell) & present[i]
                values[gas][i, empty] = np.nan
        for v in POLLUTANTS:
            values[v][~present] = np.nan

        out: dict[str, Any] = {"present": present}
        for v in POLLUTANTS:
            series = np.concatenate([self.hist[v], values[v]])  # (47, P)
            total = np.zeros((24, n))
            count = np.zeros((24, n))
            peak = np.full((24, n), np.nan)
            for k in range(24):  # fixed order: identical sums whatever the chunking
                window = series[k : k + 24]
                ok = ~np.isnan(window)
                total += np.where(ok, window, 0.0)
                count += ok
                if v == "o3":
                    peak = np.fmax(peak, window)
            with np.errstate(invalid="ignore", divide="ignore"):
                mean = np.where(count > 0, total / np.maximum(count, 1), np.nan)
            out[v] = values[v]
            out[f"{v}_24h"] = np.round(mean, 1) if v == "co" else np.round(mean)
            if v == "o3":
                out["o3_24h"] = peak
                o3_8 = np.zeros((24, n))
                c8 = np.zeros((24, n))
                for k in range(8):
                    window = series[16 + k : 16 + k + 24]
                    ok = ~np.isnan(window)
                    o3_8 += np.where(ok, window, 0.0)
                    c8 += ok
                o3_8h = np.where(c8 >= 6, np.round(o3_8 / np.maximum(c8, 1)), np.nan)
                out["o3_8h"] = np.where(present, o3_8h, np.nan)
                s8 = np.concatenate([self.hist["o3_8h"], out["o3_8h"]])
                peak8 = np.full((24, n), np.nan)
                for k in range(24):
                    peak8 = np.fmax(peak8, s8[k : k + 24])
                out["o3_8h_24h"] = peak8
            self.hist[v] = series[-HISTORY:]
        self.hist["o3_8h"] = np.concatenate([self.hist["o3_8h"], out["o3_8h"]])[-HISTORY:]

        pm25_24, pm10_24 = out["pm25_24h"], out["pm10_24h"]
        index = aqi(pm25_24, pm10_24, self.standard)
        i25 = iaqi(pm25_24, "pm25", self.standard)
        i10 = iaqi(pm10_24, "pm10", self.standard)
        out["aqi"] = index
        pm10_first = np.nan_to_num(i10, nan=-1.0) > np.nan_to_num(i25, nan=-1.0)
        primary = np.where(index > 50, np.where(pm10_first, PRIMARY_PM10, PRIMARY_PM25), "")
        out["primary"] = primary.tolist()
        for key in (
            "pm25_24h",
            "pm10_24h",
            "so2_24h",
            "no2_24h",
            "co_24h",
            "o3_24h",
            "o3_8h_24h",
            "aqi",
        ):
            out[key] = np.where(present, out[key], np.nan)
        return out
