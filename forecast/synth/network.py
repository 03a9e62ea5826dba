"""The synthetic monitoring network: the real stations, synthetic ones, and ``DIR/config.yaml``.

``n_stations`` equal to the number of stations of the base configuration (21 for the repository's
``config.yaml``) gives exactly those stations. More adds synthetic stations after them:

- codes ``9001A … 9999A``, then ``8001A … 8999A``, ``7001A`` … down to ``5001A`` (at most
  4,995 synthetic stations), outside the code space of the national network in this region;
- cities assigned round-robin in the order of the configuration's cities;
- lon/lat jittered around the city centre (Gaussian, σ ≈ 8–12 km; reference sites every 20th
  station, σ three times larger), from a stream that depends on the station index only, so
  every seed sees the same network layout;
- names ``<city>合成站<code digits>`` (reference sites with the suffix ``(对照点)``).

Fewer stations than the base configuration takes the base stations city by city, round-robin,
non-reference stations first, so that every city keeps a non-reference station (at least one
station per city is needed).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import yaml

from forecast.config import Config, load_config
from forecast.errors import ConfigError
from forecast.io import atomic_write
from forecast.synth.noise import GROUP_SIZE, Stream, stream

#: ``area`` column of the network's hourly release for the region's cities (as published).
AREA_NAMES: dict[str, str] = {
    "urumqi": "乌鲁木齐市",
    "changji": "昌吉州",
    "shihezi": "石河子市",
    "wujiaqu": "五家渠市",
}
#: City centres [degrees east, degrees north]; other cities use the mean of their stations.
CITY_CENTRES: dict[str, tuple[float, float]] = {
    "urumqi": (87.60, 43.83),
    "changji": (87.30, 44.01),
    "shihezi": (86.05, 44.29),
    "wujiaqu": (87.55, 44.18),
}
#: Relative emission strength of each city [1] (Urumqi > Changji ≈ Shihezi > Wujiaqu).
CITY_EMISSION: dict[str, float] = {"urumqi": 1.0, "changji": 0.66, "shihezi": 0.7, "wujiaqu": 0.55}
MAX_SYNTHETIC = 5 * 999
REPO_CONFIG = Path(__file__).resolve().parents[2] / "config.yaml"


@dataclass(frozen=True)
class SynthStation:
    code: str
    name: str
    city: str
    lon: float
    lat: float
    reference_site: bool
    #: random-number group and member (see :mod:`forecast.synth.noise`).
    group: int
    member: int
    real: bool


@dataclass(frozen=True)
class Network:
    base: Config
    stations: tuple[SynthStation, ...]

    @property
    def cities(self) -> list[str]:
        return [c.id for c in self.base.cities]

    @property
    def codes(self) -> list[str]:
        return [s.code for s in self.stations]

    def array(self, name: str) -> npt.NDArray[Any]:
        return np.array([getattr(s, name) for s in self.stations])

    @property
    def city_index(self) -> npt.NDArray[np.int64]:
        index = {c: i for i, c in enumerate(self.cities)}
        return np.array([index[s.city] for s in self.stations], dtype=np.int64)

    def area(self, city: str) -> str:
        return AREA_NAMES.get(city, self.base.city(city).name_zh)

    def centre(self, city: str) -> tuple[float, float]:
        if city in CITY_CENTRES:
            return CITY_CENTRES[city]
        own = [s for s in self.base.stations_of(city) if not s.reference_site]
        return float(np.mean([s.lon for s in own])), float(np.mean([s.lat for s in own]))

    @property
    def groups(self) -> list[int]:
        return sorted({s.group for s in self.stations})


def synthetic_code(i: int) -> str:
    """Code of synthetic station ``i`` (0-based): 9001A…9999A, 8001A…, down to 5999A."""
    if not 0 <= i < MAX_SYNTHETIC:
        raise ValueError(f"at most {MAX_SYNTHETIC} synthetic stations")
    block, k = divmod(i, 999)
    return f"{9 - block}{k + 1:03d}A"


def load_base_config(config: str | Path | Config | None) -> Config:
    if isinstance(config, Config):
        return config
    path = Path(config) if config is not None else REPO_CONFIG
    if config is None and not path.is_file():
        raise ConfigError(f"{path}: no base configuration; pass --config CONFIG")
    return load_config(path)


def _subset(base: Config, n: int) -> list[int]:
    """Indices of ``n`` base stations, round-robin over cities, non-reference first."""
    per_city = [
        sorted(
            (i for i, s in enumerate(base.stations) if s.city == c.id),
            key=lambda i: base.stations[i].reference_site,
        )
        for c in base.cities
    ]
    order: list[int] = []
    for rank in range(max(len(p) for p in per_city)):
        order += [p[rank] for p in per_city if rank < len(p)]
    return sorted(order[:n])


def build_network(base: Config, n_stations: int) -> Network:
    n_base = len(base.stations)
    if n_stations < len(base.cities):
        raise ConfigError(
            f"--stations must be ≥ {len(base.cities)} (one per city), got {n_stations}"
        )
    if n_stations > n_base + MAX_SYNTHETIC:
        raise ConfigError(f"--stations must be ≤ {n_base + MAX_SYNTHETIC}, got {n_stations}")
    chosen = _subset(base, n_stations) if n_stations < n_base else list(range(n_base))
    stations = [
        SynthStation(s.code, s.name, s.city, s.lon, s.lat, s.reference_site, 0, i, True)
        for i, s in ((i, base.stations[i]) for i in chosen)
    ]
    cities = list(base.cities)
    network = Network(base, ())
    for i in range(max(0, n_stations - n_base)):
        city = cities[i % len(cities)]
        code = synthetic_code(i)
        reference = i % 20 == 19
        rng = stream(0, Stream.NETWORK, i)
        lon0, lat0 = network.centre(city.id)
        spread = (0.15, 0.10) if city.id == "urumqi" else (0.10, 0.07)
        scale = 3.0 if reference else 1.0
        dlon, dlat = rng.standard_normal(2) * np.array(spread) * scale
        name = f"{city.name_zh}合成站{code[:4]}" + ("(对照点)" if reference else "")
        group, member = divmod(i, GROUP_SIZE)
        stations.append(
            SynthStation(
                code,
                name,
                city.id,
                round(lon0 + float(dlon), 4),
                round(lat0 + float(dlat), 4),
                reference,
                group + 1,
                member,
                False,
            )
        )
    clash = {s.code for s in base.stations} & {s.code for s in stations if not s.real}
    if clash:
        raise ConfigError(f"the base configuration already uses synthetic code(s) {sorted(clash)}")
    return Network(base, tuple(stations))


def config_dict(network: Network, obs_format: str) -> dict[str, Any]:
    """The base configuration with the network's stations and data paths inside DIR."""
    data = network.base.model_dump(mode="json")
    data["stations"] = [
        {
            "code": s.code,
            "name": s.name,
            "city": s.city,
            "lon": s.lon,
            "lat": s.lat,
            "reference_site": s.reference_site,
        }
        for s in network.stations
    ]
    obs_source = (
        {"format": "cnemc-hourly", "pattern": "obs/*.csv"}
        if obs_format == "cnemc-hourly"
        else {"format": "netcdf", "pattern": "obs/obs_*.nc"}
    )
    data["data"] = {
        "observations_dir": "data/obs",
        "nwp_dir": "nwp",
        "models_dir": "data/models",
        "bulletins_dir": "data/bulletins",
        "cache_dir": "data/cache",
        "sources": {
            "observations": [obs_source],
            "nwp": [{"format": "netcdf", "pattern": "nwp/wcs_*.nc"}],
        },
    }
    data["schedule"]["job_store"] = "data/scheduler.sqlite"
    return data


def write_config(network: Network, out_dir: Path, obs_format: str) -> tuple[Path, bytes]:
    """Write ``DIR/config.yaml`` (checked with :func:`load_config` before it is renamed)."""
    header = (
        "# Synthetic Wu-Chang-Shi configuration written by `wcs-forecast synth` (forecast.synth).\n"
        "# The base configuration with the synthetic network's stations; relative paths are\n"
        "# relative to this file. Observations: obs/, forecasts: nwp/, analyses: analysis/.\n"
    )
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    # default_flow_style=None: mappings of scalars in flow style, like the repository's
    # station list ({code: 1490A, name: …}).
    text = header + yaml.dump(
        config_dict(network, obs_format),
        Dumper=dumper,
        allow_unicode=True,
        sort_keys=False,
        width=120,
        default_flow_style=None,
    )
    data = text.encode("utf-8")
    path = out_dir / "config.yaml"
    with atomic_write(path, fsync=False) as tmp:
        tmp.write_bytes(data)
        load_config(tmp)  # never leave a configuration behind that does not load
    return path, data
