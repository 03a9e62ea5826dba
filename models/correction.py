"""Recent-error correction: shift a forecast by the model's own errors of the last verified days.

A model trained on cleaner winters under-forecasts a worse one: in 2015-16 the Wu-Chang-Shi
models' day-ahead forecasts were 12–39 µg/m³ too low on average, because the training winters'
episodes ended faster. Operational air-quality forecasting corrects a model by its recent
errors (running-mean bias correction; Delle Monache et al. 2006, *J. Geophys. Res.* 111,
D05308; McKeen et al. 2007). Here, for an issue on day D:

    offset(D) = damping × mean(obs − forecast) over the model's day-ahead (lead day 1)
                forecasts of the last ``window_days`` verified days,

where a day is verified when it is complete at the issue time (daily data: days ≤ D; hourly
data issued during day D: days ≤ D − 1). The offset [µg/m³] is added to the mean and to every
quantile of every lead (clipped at 0), so the forecast spread is kept. Fewer than
``min_errors`` verified errors in the window → no correction. Window and damping are chosen on
the validation year (minimum RMSE over all leads), never on the test period; damping 0 means
"off".

Everything here works on the daily forecast table of :func:`models.backtest.to_daily`:
columns ``site, issue_day, lead_day, target_day, mean, q10 …`` and ``obs``, days as Beijing
dates.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

FloatArray = npt.NDArray[np.float64]

#: Candidate windows [days] and dampings [1] tried on the validation year.
WINDOWS_DAYS = (3, 5, 7, 14)
DAMPINGS = (0.0, 0.25, 0.5, 0.75, 1.0)


@dataclass(frozen=True)
class Correction:
    """A tuned recent-error correction (``damping == 0``: off)."""

    window_days: int = 7
    damping: float = 0.0

    @property
    def active(self) -> bool:
        return self.damping > 0.0

    @property
    def min_errors(self) -> int:
        return max(2, self.window_days // 2)

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)

    @classmethod
    def from_params(cls, params: Mapping[str, object]) -> Correction:
        """From a model card's ``params`` (``correction_window_days``, ``correction_damping``);
        off for cards written before the correction existed."""
        window = params.get("correction_window_days", 7)
        damping = params.get("correction_damping", 0.0)
        return cls(int(window), float(damping))  # type: ignore[call-overload, arg-type]


def day_ahead_errors(frame: pd.DataFrame) -> pd.Series:
    """obs − mean [µg/m³] of the lead-day-1 forecasts, indexed by (site, target day)."""
    first = frame[frame["lead_day"] == 1]
    errors = (first["obs"] - first["mean"]).to_numpy()
    index = pd.MultiIndex.from_arrays(
        [first["site"].to_numpy(), pd.DatetimeIndex(first["target_day"])],
        names=["site", "target_day"],
    )
    out = pd.Series(errors, index=index).dropna()
    return out[~out.index.duplicated(keep="last")].sort_index()


def recent_offsets(
    errors: pd.Series,
    sites: Sequence[str] | npt.NDArray[np.object_],
    issue_days: pd.DatetimeIndex,
    correction: Correction,
    *,
    verified_lag_days: int,
) -> FloatArray:
    """The offset [µg/m³] of each (site, issue day): damped mean of the verified recent errors.

    ``verified_lag_days`` is 0 when the issue day itself is complete (daily data) and 1 when
    the issue is made during the day (hourly data).
    """
    out = np.zeros(len(issue_days))
    if not correction.active or errors.empty:
        return out
    sites = np.asarray(sites, dtype=object)
    issue_days = pd.DatetimeIndex(issue_days)
    for site in pd.unique(sites):
        if site not in errors.index.get_level_values("site"):
            continue
        mine = errors.xs(site, level="site")
        daily = mine.reindex(pd.date_range(mine.index.min(), mine.index.max(), freq="D"))
        rolled = daily.rolling(correction.window_days, min_periods=correction.min_errors).mean()
        at = np.flatnonzero(sites == site)
        last_verified = issue_days[at] - pd.Timedelta(days=verified_lag_days)
        values = rolled.reindex(last_verified).to_numpy()
        out[at] = np.where(np.isfinite(values), correction.damping * values, 0.0)
    return out


def apply_offsets(frame: pd.DataFrame, offsets: FloatArray, columns: Sequence[str]) -> pd.DataFrame:
    """A copy of ``frame`` with ``offsets`` added to ``columns`` [µg/m³], clipped at 0."""
    out = frame.copy()
    for column in columns:
        out[column] = np.clip(out[column].to_numpy() + offsets, 0.0, None)
    return out


def correct(
    frame: pd.DataFrame,
    correction: Correction,
    columns: Sequence[str],
    *,
    verified_lag_days: int,
    errors_from: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Apply ``correction`` to a daily forecast table (errors from ``errors_from`` or itself).

    ``errors_from`` may hold forecasts issued before ``frame``'s (the days before a test
    period); it must contain only out-of-sample forecasts.
    """
    if not correction.active:
        return frame.copy()
    source = frame if errors_from is None else errors_from
    offsets = recent_offsets(
        day_ahead_errors(source),
        frame["site"].to_numpy(),
        pd.DatetimeIndex(frame["issue_day"]),
        correction,
        verified_lag_days=verified_lag_days,
    )
    return apply_offsets(frame, offsets, columns)


def _rmse(obs: FloatArray, forecast: FloatArray) -> float:
    ok = np.isfinite(obs) & np.isfinite(forecast)
    return float(np.sqrt(np.mean((obs[ok] - forecast[ok]) ** 2))) if ok.any() else np.inf


def tune_correction(
    frame: pd.DataFrame,
    *,
    verified_lag_days: int,
    windows: Sequence[int] = WINDOWS_DAYS,
    dampings: Sequence[float] = DAMPINGS,
    min_rows: int = 100,
) -> Correction:
    """The window and damping with the lowest RMSE of the mean over all leads of ``frame``.

    Ties (within 0.1 %) go to the weaker correction; with fewer than ``min_rows`` verified
    rows the correction stays off.
    """
    obs = frame["obs"].to_numpy(dtype=np.float64)
    if np.isfinite(obs).sum() < min_rows:
        return Correction(damping=0.0)
    errors = day_ahead_errors(frame)
    mean = frame["mean"].to_numpy(np.float64)
    best, best_score = Correction(damping=0.0), _rmse(obs, mean)
    for window in windows:
        # The window's mean errors once; each damping only scales them.
        undamped = recent_offsets(
            errors,
            frame["site"].to_numpy(),
            pd.DatetimeIndex(frame["issue_day"]),
            Correction(window_days=int(window), damping=1.0),
            verified_lag_days=verified_lag_days,
        )
        for damping in sorted(d for d in dampings if d > 0):
            score = _rmse(obs, np.clip(mean + damping * undamped, 0.0, None))
            if score < best_score * 0.999:
                best = Correction(window_days=int(window), damping=float(damping))
                best_score = score
    return best
