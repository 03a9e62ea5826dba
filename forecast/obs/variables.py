"""The canonical observation variables: names, units and physical limits.

One table, used by every reader (to map source columns), by quality control (physical limits)
and by the dataset writer (CF attributes). Concentrations are in µg/m³ except CO in mg/m³, as the
national network publishes them (HJ 633).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Variable:
    name: str
    units: str
    long_name: str
    standard_name: str | None
    #: largest value that can physically be measured [units]; larger values are impossible.
    max_valid: float


VARIABLES: dict[str, Variable] = {
    v.name: v
    for v in (
        Variable(
            "pm25",
            "µg/m³",
            "PM2.5 mass concentration",
            "mass_concentration_of_pm2p5_ambient_aerosol_particles_in_air",
            2000.0,
        ),
        Variable(
            "pm10",
            "µg/m³",
            "PM10 mass concentration",
            "mass_concentration_of_pm10_ambient_aerosol_particles_in_air",
            10000.0,
        ),
        Variable(
            "so2",
            "µg/m³",
            "SO2 mass concentration",
            "mass_concentration_of_sulfur_dioxide_in_air",
            5000.0,
        ),
        Variable(
            "no2",
            "µg/m³",
            "NO2 mass concentration",
            "mass_concentration_of_nitrogen_dioxide_in_air",
            2000.0,
        ),
        Variable(
            "co",
            "mg/m³",
            "CO mass concentration",
            "mass_concentration_of_carbon_monoxide_in_air",
            150.0,
        ),
        Variable(
            "o3",
            "µg/m³",
            "O3 mass concentration (1-hour)",
            "mass_concentration_of_ozone_in_air",
            1200.0,
        ),
        Variable("o3_8h", "µg/m³", "O3 mass concentration (8-hour running mean)", None, 1200.0),
        Variable("aqi", "1", "air quality index as published by the source", None, 500.0),
    )
}

#: Variables every reader tries to fill, in the order they appear in datasets.
OBS_VARIABLES: tuple[str, ...] = tuple(VARIABLES)
