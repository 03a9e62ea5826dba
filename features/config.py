"""Feature parameters in hours, and their conversion to time steps for the kernels.

Every window, lag and duration is given in **hours** so that one configuration reads the same
on hourly and daily data; :meth:`FeatureConfig.resolve` converts them to whole time steps of
the data (1 h or 24 h) and refuses, naming the window and the step, any that is not a whole
number of steps (a 36 h window on daily data is an error, not a silently rounded 1 or 2 days).

Minimum valid counts: a window of ``n`` steps needs ``max(1, ceil(min_valid_fraction * n))``
valid values (75 % by default: 18 of 24 hours, close to the national 20-of-24 rule for a daily
mean, and 3 of 3); below that its mean, standard deviation, min and max are NaN.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np
import numpy.typing as npt

#: Meteorological variables used when present, in this column order (canonical names of
#: :data:`forecast.met.variables.MET_VARIABLES`).
DEFAULT_MET_VARIABLES: tuple[str, ...] = (
    "blh",
    "wind_speed",
    "ventilation",
    "inversion",
    "rh2m",
    "tp",
    "stagnant",
)
#: Amounts over the interval ending at the valid time: summed over windows, totalled since issue.
AMOUNT_VARIABLES: frozenset[str] = frozenset({"tp"})
#: 0/1 flags: consecutive flagged hours ending at the valid time, flagged hours since issue.
FLAG_VARIABLES: frozenset[str] = frozenset({"stagnant"})

#: Met kernel kinds (see :func:`features.kernels.met_features`).
KIND_STATE, KIND_AMOUNT, KIND_FLAG = 0, 1, 2


def met_kind(name: str) -> int:
    if name in AMOUNT_VARIABLES:
        return KIND_AMOUNT
    if name in FLAG_VARIABLES:
        return KIND_FLAG
    return KIND_STATE


def to_steps(hours: float, step_hours: float, what: str, *, allow_zero: bool = False) -> int:
    """``hours`` as a whole number of steps of ``step_hours``; ValueError naming both if not."""
    ratio = hours / step_hours
    steps = round(ratio)
    if not math.isfinite(ratio) or abs(ratio - steps) > 1e-9 or steps < (0 if allow_zero else 1):
        raise ValueError(
            f"{what} = {hours:g} h is not a whole, positive number of time steps of "
            f"{step_hours:g} h (the data's step); choose a multiple of {step_hours:g} h"
        )
    return int(steps)


@dataclass(frozen=True)
class FeatureConfig:
    """What the feature matrix holds. Hours everywhere; see the module docstring for steps."""

    #: PM2.5 values this many hours before the issue time.
    lags_h: tuple[float, ...] = (1, 2, 3, 6, 12, 24, 48, 72)
    #: Rolling mean, standard deviation, min and max over these windows ending at issue time.
    windows_h: tuple[float, ...] = (3, 6, 12, 24, 72)
    #: Fraction of a window's steps that must be valid (also for diurnal means and totals).
    min_valid_fraction: float = 0.75
    #: Half-lives of the exponentially weighted means [h].
    ewm_halflives_h: tuple[float, ...] = (6, 24, 72)
    #: An EWM is NaN when the newest valid value is older than this many half-lives.
    ewm_max_age_halflives: float = 10.0
    #: Days of the diurnal-cycle reference (0: no diurnal anomaly).
    diurnal_days: int = 14
    #: Interval of the rate of rise [h] (0: none).
    rise_h: float = 3.0
    #: Thresholds of the "hours since PM2.5 last exceeded" features [µg/m³].
    exceedance_thresholds: tuple[float, ...] = (75.0, 150.0)
    #: Threshold of the current episode's length [µg/m³] (None: no episode length).
    episode_threshold: float | None = 75.0
    #: How far back exceedances are looked for, and the cap of an episode's length [h].
    lookback_h: float = 720.0
    #: Means of the state meteorology over these windows ending at the valid time [h].
    met_windows_h: tuple[float, ...] = (6, 24)
    #: Add ``<var>_change`` = value at the valid time − value at the issue time for every
    #: state variable (amounts and flags have their totals since the issue time instead).
    met_change: bool = True
    #: Precipitation totals over these windows ending at the valid time [h].
    precip_windows_h: tuple[float, ...] = (24, 72)
    #: Cap of the consecutive stagnation hours ending at the valid time [h].
    stagnation_cap_h: float = 240.0
    #: Spring Festival window: days before and after the first day of the lunar year.
    spring_festival_days: tuple[int, int] = (7, 15)
    #: Add the calendar features at the valid time.
    calendar: bool = True
    #: The Dataset variable holding PM2.5 [µg/m³].
    pm25_var: str = "pm25"
    #: Meteorological variables to use when present in the Dataset, in column order.
    met_vars: tuple[str, ...] = field(default=DEFAULT_MET_VARIABLES)

    @classmethod
    def hourly(cls) -> FeatureConfig:
        """The default configuration for hourly data."""
        return cls()

    @classmethod
    def daily(cls) -> FeatureConfig:
        """A configuration for daily data: every window a whole number of days."""
        return cls(
            lags_h=(24, 48, 72, 168),
            windows_h=(72, 168),
            ewm_halflives_h=(48, 168),
            diurnal_days=0,
            rise_h=24.0,
            met_windows_h=(72,),
            precip_windows_h=(72, 168),
        )

    def as_dict(self) -> dict[str, object]:
        return asdict(self)

    def resolve(self, step_hours: float) -> KernelParams:
        """The kernel parameters for data with time step ``step_hours`` (1 or 24)."""
        f = self.min_valid_fraction
        if not 0.0 < f <= 1.0:
            raise ValueError(f"min_valid_fraction must be in (0, 1], got {f}")

        def need(n: int) -> int:
            return max(1, math.ceil(f * n - 1e-9))

        # Lag 0 is the value at the issue time itself (the newest known value).
        lags = [to_steps(h, step_hours, f"lag {h:g} h", allow_zero=True) for h in self.lags_h]
        wins = [to_steps(h, step_hours, f"rolling window {h:g} h") for h in self.windows_h]
        hl = [h / step_hours for h in self.ewm_halflives_h]
        if any(not (v > 0.0) for v in hl):
            raise ValueError(f"EWM half-lives must be positive, got {self.ewm_halflives_h}")
        if self.diurnal_days < 0:
            raise ValueError(f"diurnal_days must be ≥ 0, got {self.diurnal_days}")
        period = to_steps(24.0, step_hours, "diurnal period 24 h") if self.diurnal_days else 0
        rise = to_steps(self.rise_h, step_hours, "rate-of-rise interval", allow_zero=True)
        lookback = to_steps(self.lookback_h, step_hours, "exceedance lookback")
        met_w = [to_steps(h, step_hours, f"met window {h:g} h") for h in self.met_windows_h]
        pr_w = [
            to_steps(h, step_hours, f"precipitation window {h:g} h") for h in self.precip_windows_h
        ]
        stag = to_steps(self.stagnation_cap_h, step_hours, "stagnation cap")
        return KernelParams(
            step_hours=float(step_hours),
            lag_steps=np.asarray(lags, dtype=np.int64),
            win_steps=np.asarray(wins, dtype=np.int64),
            win_min=np.asarray([need(w) for w in wins], dtype=np.int64),
            ewm_lambda=np.asarray([np.exp(np.log(0.5) / h) for h in hl], dtype=np.float64),
            ewm_max_age=np.asarray(
                [math.ceil(self.ewm_max_age_halflives * h) for h in hl], dtype=np.int64
            ),
            ewm_halflife_steps=tuple(hl),
            diurnal_period=period,
            diurnal_days=int(self.diurnal_days),
            diurnal_min=need(self.diurnal_days) if self.diurnal_days else 0,
            rise_steps=rise,
            rise_hours=float(self.rise_h),
            thresholds=np.asarray(self.exceedance_thresholds, dtype=np.float64),
            lookback=lookback,
            episode_thr=(
                np.nan if self.episode_threshold is None else float(self.episode_threshold)
            ),
            met_mean_steps=np.asarray(met_w, dtype=np.int64),
            met_mean_min=np.asarray([need(w) for w in met_w], dtype=np.int64),
            met_change=bool(self.met_change),
            met_total_steps=np.asarray(pr_w, dtype=np.int64),
            met_total_min=np.asarray([need(w) for w in pr_w], dtype=np.int64),
            stagnation_cap=stag,
            min_valid_fraction=f,
        )


@dataclass(frozen=True)
class KernelParams:
    """:class:`FeatureConfig` in time steps, as the kernels take it."""

    step_hours: float
    lag_steps: npt.NDArray[np.int64]
    win_steps: npt.NDArray[np.int64]
    win_min: npt.NDArray[np.int64]
    ewm_lambda: npt.NDArray[np.float64]
    ewm_max_age: npt.NDArray[np.int64]
    ewm_halflife_steps: tuple[float, ...]
    diurnal_period: int
    diurnal_days: int
    diurnal_min: int
    rise_steps: int
    rise_hours: float
    thresholds: npt.NDArray[np.float64]
    lookback: int
    episode_thr: float
    met_mean_steps: npt.NDArray[np.int64]
    met_mean_min: npt.NDArray[np.int64]
    met_change: bool
    met_total_steps: npt.NDArray[np.int64]
    met_total_min: npt.NDArray[np.int64]
    stagnation_cap: int
    min_valid_fraction: float

    def history_args(self) -> tuple[object, ...]:
        """The trailing arguments of the PM2.5 history kernels, in order."""
        return (
            self.lag_steps,
            self.win_steps,
            self.win_min,
            self.ewm_lambda,
            self.ewm_max_age,
            self.diurnal_period,
            self.diurnal_days,
            self.diurnal_min,
            self.rise_steps,
            self.rise_hours,
            self.thresholds,
            self.lookback,
            self.episode_thr,
            self.step_hours,
        )

    @property
    def n_history(self) -> int:
        n = len(self.lag_steps) + 4 * len(self.win_steps) + len(self.ewm_lambda)
        n += (1 if self.diurnal_days else 0) + (1 if self.rise_steps else 0)
        return n + len(self.thresholds) + (0 if math.isnan(self.episode_thr) else 1)

    def history_steps(self) -> int:
        """Steps before the issue step that make serving equal to training (see kernels).

        The previous block of every window (2 w - 1), lags, the diurnal reference, the rate of
        rise, exceedance and episode lookbacks, and for each EWM its maximum age plus 40
        half-lives (older weights are below 2**-40 of the newest).
        """
        need = [1, self.lookback + 1, self.rise_steps + 1]
        need += [int(k) + 1 for k in self.lag_steps]
        need += [2 * int(w) for w in self.win_steps]
        need.append(self.diurnal_period * self.diurnal_days + 1)
        need += [
            int(a) + math.ceil(40 * h) + 1
            for a, h in zip(self.ewm_max_age, self.ewm_halflife_steps, strict=True)
        ]
        return max(need)

    def met_history_steps(self) -> int:
        """Steps before a valid time that the met windows and stagnation runs read."""
        need = [1, self.stagnation_cap + 1]
        need += [2 * int(w) for w in self.met_mean_steps]
        need += [2 * int(w) for w in self.met_total_steps]
        return max(need)
