"""The canonical meteorological variables: names, units and meaning.

Every grid, point-weather table and synthetic field is converted to these names and units on
read, so that features and models see one consistent set. Temperatures are in kelvin
(differences such as the inversion strength are in K, equal to °C differences); pressures in
hPa; precipitation as the amount fallen during the interval ending at the valid time.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MetVariable:
    name: str
    units: str
    long_name: str
    standard_name: str | None = None
    #: physically possible range [units]; values outside are errors or masked, never used.
    valid_min: float = float("-inf")
    valid_max: float = float("inf")


MET_VARIABLES: dict[str, MetVariable] = {
    v.name: v
    for v in (
        MetVariable(
            "blh", "m", "boundary-layer height", "atmosphere_boundary_layer_thickness", 0.0, 8000.0
        ),
        MetVariable("u10", "m/s", "10 m eastward wind", "eastward_wind", -100.0, 100.0),
        MetVariable("v10", "m/s", "10 m northward wind", "northward_wind", -100.0, 100.0),
        MetVariable("wind_speed", "m/s", "10 m wind speed", "wind_speed", 0.0, 100.0),
        MetVariable(
            "wind_dir",
            "degree",
            "10 m wind direction (from which it blows, clockwise from north)",
            "wind_from_direction",
            0.0,
            360.0,
        ),
        MetVariable("t2m", "K", "2 m air temperature", "air_temperature", 170.0, 340.0),
        MetVariable("d2m", "K", "2 m dew-point temperature", "dew_point_temperature", 150.0, 340.0),
        MetVariable("rh2m", "%", "2 m relative humidity", "relative_humidity", 0.0, 105.0),
        MetVariable("t850", "K", "air temperature at 850 hPa", "air_temperature", 170.0, 330.0),
        MetVariable("sp", "hPa", "surface air pressure", "surface_air_pressure", 400.0, 1100.0),
        MetVariable(
            "tp",
            "mm",
            "precipitation amount in the interval ending at the valid time",
            "precipitation_amount",
            0.0,
            500.0,
        ),
        MetVariable(
            "ventilation",
            "m2/s",
            "ventilation index (boundary-layer height × 10 m wind speed)",
            None,
            0.0,
            1.0e6,
        ),
        MetVariable(
            "inversion",
            "K",
            "inversion strength (850 hPa minus 2 m temperature; > 0 means warmer air aloft)",
            None,
            -60.0,
            60.0,
        ),
        # ---- derived (forecast.met.derived.add_derived)
        MetVariable(
            "tp_24h",
            "mm",
            "precipitation amount in the 24 h ending at the valid time",
            "precipitation_amount",
            0.0,
            2000.0,
        ),
        MetVariable(
            "tp_72h",
            "mm",
            "precipitation amount in the 72 h ending at the valid time",
            "precipitation_amount",
            0.0,
            4000.0,
        ),
        MetVariable(
            "stagnant",
            "1",
            "stagnation flag (1 = weak wind, shallow boundary layer and "
            "no significant precipitation; 0 = not; NaN = unknown)",
            None,
            0.0,
            1.0,
        ),
        MetVariable(
            "stagnation_hours",
            "h",
            "duration of the stagnation spell ending at the valid time",
            None,
            0.0,
            1.0e5,
        ),
        # ---- point weather: hourly precipitation occurrence and categorical wind (Beijing PRSA)
        MetVariable(
            "wind_sector",
            "1",
            "wind direction quadrant (0 calm or variable, 1 NE, 2 SE, 3 NW)",
            None,
            0.0,
            3.0,
        ),
        MetVariable(
            "wind_run_cum",
            "m/s",
            "cumulated wind speed: hourly speeds summed over the "
            "consecutive hours of one wind_sector, as published",
            None,
            0.0,
            5000.0,
        ),
        MetVariable(
            "snow_hours_cum", "h", "cumulated hours of snow, as published", None, 0.0, 1000.0
        ),
        MetVariable(
            "rain_hours_cum", "h", "cumulated hours of rain, as published", None, 0.0, 1000.0
        ),
        MetVariable(
            "snow_flag",
            "1",
            "snow fell in the hour ending at the valid time (1) or not (0)",
            None,
            0.0,
            1.0,
        ),
        MetVariable(
            "rain_flag",
            "1",
            "rain fell in the hour ending at the valid time (1) or not (0)",
            None,
            0.0,
            1.0,
        ),
        MetVariable(
            "precip_flag",
            "1",
            "precipitation (rain or snow) fell in the hour ending at the valid time (1) or not (0)",
            None,
            0.0,
            1.0,
        ),
        # ---- the ELEVATED regional weather station (~1.87 km, ~808 hPa): daily values of the
        # Beijing calendar day. Above the basin's winter inversion: NOT the city's surface air.
        *(
            MetVariable(
                f"t_elev_{stat}",
                "K",
                f"daily {word} air temperature at the elevated regional station",
                "air_temperature",
                200.0,
                330.0,
            )
            for stat, word in (("mean", "mean"), ("max", "maximum"), ("min", "minimum"))
        ),
        *(
            MetVariable(
                f"rh_elev_{stat}",
                "%",
                f"daily {word} relative humidity at the elevated regional station",
                "relative_humidity",
                0.0,
                100.0,
            )
            for stat, word in (("mean", "mean"), ("min", "minimum"))
        ),
        MetVariable(
            "ws_elev_mean",
            "m/s",
            "daily mean wind speed at the elevated regional station",
            "wind_speed",
            0.0,
            75.0,
        ),
        MetVariable(
            "ws_elev_max",
            "m/s",
            "daily maximum (10-minute mean) wind speed at the elevated regional station",
            "wind_speed",
            0.0,
            75.0,
        ),
        MetVariable(
            "ws_elev_gust",
            "m/s",
            "daily extreme (instantaneous) wind speed at the elevated regional station",
            "wind_speed_of_gust",
            0.0,
            100.0,
        ),
        MetVariable(
            "wd_elev_max",
            "degree",
            "direction (from which it blows, clockwise from "
            "north) of the daily maximum wind at the elevated regional station",
            "wind_from_direction",
            0.0,
            360.0,
        ),
        MetVariable(
            "wd_elev_gust",
            "degree",
            "direction (from which it blows, clockwise from "
            "north) of the daily extreme wind at the elevated regional station",
            "wind_from_direction",
            0.0,
            360.0,
        ),
        MetVariable(
            "wd_elev_max_code",
            "1",
            "16-point direction code of the daily maximum wind "
            "at the elevated regional station, as published (1 NNE … 16 N, 17 calm)",
            None,
            1.0,
            17.0,
        ),
        MetVariable(
            "wd_elev_gust_code",
            "1",
            "16-point direction code of the daily extreme wind "
            "at the elevated regional station, as published (1 NNE … 16 N, 17 calm)",
            None,
            1.0,
            17.0,
        ),
        MetVariable(
            "sunshine_elev",
            "h",
            "daily sunshine duration at the elevated regional station",
            "duration_of_sunshine",
            0.0,
            24.0,
        ),
        MetVariable(
            "tp_elev",
            "mm",
            "daily precipitation amount at the elevated regional station",
            "precipitation_amount",
            0.0,
            500.0,
        ),
        *(
            MetVariable(
                f"p_elev_{stat}",
                "hPa",
                f"daily {word} station-level air pressure at the elevated regional station",
                "surface_air_pressure",
                400.0,
                1100.0,
            )
            for stat, word in (("mean", "mean"), ("max", "maximum"), ("min", "minimum"))
        ),
        *(
            MetVariable(
                f"tg_elev_{stat}",
                "K",
                f"daily {word} ground-surface (0 cm) temperature at the elevated regional station",
                "surface_temperature",
                200.0,
                360.0,
            )
            for stat, word in (("mean", "mean"), ("max", "maximum"), ("min", "minimum"))
        ),
    )
}
