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
    )
}
