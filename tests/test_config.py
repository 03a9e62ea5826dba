"""The configuration: loaded explicitly, validated up front, errors naming the key path."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import yaml

from forecast.cli import main
from forecast.config import Config, load_config
from forecast.errors import ConfigError


def _write(tmp_path: Path, config_path: Path, edit) -> Path:  # type: ignore[no-untyped-def]
    raw = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    edit(raw)
    out = tmp_path / "config.yaml"
    out.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return out


def test_repository_config_loads(config: Config) -> None:
    assert config.region.time_zone == "Asia/Shanghai"
    assert [c.id for c in config.cities] == ["urumqi", "changji", "shihezi", "wujiaqu"]
    assert len(config.stations) == 21
    assert {s.code for s in config.stations if s.reference_site} == {"1492A", "2690A"}
    assert config.aqi.standard == "HJ633-2026"
    assert config.warnings.rule_set == "2024"


def test_stations_match_the_network_list(config: Config, shared_data: Path) -> None:
    with (shared_data / "wuchangshi" / "stations.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    names = {c.name_zh: c.id for c in config.cities}
    assert len(rows) == len(config.stations)
    for row in rows:
        st = config.station(row["stationcode"])
        assert st.name == row["name"]
        assert st.city == names[row["city"]]
        assert (st.lon, st.lat) == (float(row["lon"]), float(row["lat"]))
        assert st.reference_site is (row["reference_site"] == "Y")


def test_paths_resolve_relative_to_the_config_file(tmp_path: Path, config_path: Path) -> None:
    path = _write(tmp_path, config_path, lambda raw: None)
    config = load_config(path)
    assert config.data.models_dir == (tmp_path / "data" / "models").resolve()
    assert config.schedule.job_store == (tmp_path / "data" / "scheduler.sqlite").resolve()
    assert config.source == path.resolve()


def test_unknown_top_level_key_is_named_with_a_suggestion(
    tmp_path: Path, config_path: Path
) -> None:
    path = _write(tmp_path, config_path, lambda raw: raw.update(regoin={}))
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert "unknown key 'regoin'" in str(err.value)
    assert "did you mean 'region'" in str(err.value)
    assert str(path) in str(err.value)


def test_misspelt_nested_key_names_the_path(tmp_path: Path, config_path: Path) -> None:
    def edit(raw: dict) -> None:  # type: ignore[type-arg]
        raw["observations"]["qc"]["stuck_hour"] = 6

    with pytest.raises(ConfigError) as err:
        load_config(_write(tmp_path, config_path, edit))
    assert "observations.qc.stuck_hour" in str(err.value)
    assert "did you mean 'stuck_hours'" in str(err.value)


def test_bad_value_names_the_list_index(tmp_path: Path, config_path: Path) -> None:
    def edit(raw: dict) -> None:  # type: ignore[type-arg]
        raw["stations"][3]["lat"] = "north"

    with pytest.raises(ConfigError) as err:
        load_config(_write(tmp_path, config_path, edit))
    assert "stations[3].lat" in str(err.value)
    assert "'north'" in str(err.value)


def test_urumqi_time_zone_is_refused(tmp_path: Path, config_path: Path) -> None:
    path = _write(tmp_path, config_path, lambda raw: raw["region"].update(time_zone="Asia/Urumqi"))
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert "region.time_zone" in str(err.value)
    assert "UTC+6" in str(err.value)
    assert "Asia/Shanghai" in str(err.value)


def test_station_of_an_undefined_city_is_refused(tmp_path: Path, config_path: Path) -> None:
    path = _write(tmp_path, config_path, lambda raw: raw["stations"][0].update(city="hami"))
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert "1490A" in str(err.value)
    assert "'hami'" in str(err.value)
    assert "urumqi" in str(err.value)


def test_duplicate_station_code_is_refused(tmp_path: Path, config_path: Path) -> None:
    path = _write(tmp_path, config_path, lambda raw: raw["stations"][1].update(code="1490A"))
    with pytest.raises(ConfigError, match=r"1490A.*more than once"):
        load_config(path)


def test_invalid_cron_and_rule_set(tmp_path: Path, config_path: Path) -> None:
    def edit(raw: dict) -> None:  # type: ignore[type-arg]
        raw["schedule"]["jobs"][0]["cron"] = "61 * * * *"
        raw["warnings"]["rule_set"] = "2020"

    with pytest.raises(ConfigError) as err:
        load_config(_write(tmp_path, config_path, edit))
    text = str(err.value)
    assert "schedule.jobs[0].cron" in text
    assert "warnings.rule_set" in text
    assert "2 problem(s)" in text


def test_yaml_is_loaded_safely(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("region: !!python/object/apply:os.system ['echo unsafe']\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(path)


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yaml")


def test_city_lookup_by_any_name(config: Config) -> None:
    assert config.city("乌鲁木齐市").id == "urumqi"
    assert config.city("昌吉州").id == "changji"
    assert config.city("Shihezi").id == "shihezi"
    with pytest.raises(KeyError, match="valid cities"):
        config.city("哈密")


def test_cli_config_check(config_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "check", str(config_path)]) == 0
    out = capsys.readouterr().out
    assert "stations: 21 (2 reference)" in out
    assert "configuration OK" in out


def test_cli_config_check_bad_config_exits_2(
    tmp_path: Path, config_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(tmp_path, config_path, lambda raw: raw.update(modle={}))
    assert main(["config", "check", str(path)]) == 2
    err = capsys.readouterr().err
    assert "unknown key 'modle'" in err
    assert "Traceback" not in err


def test_local_warning_plan_from_a_rule_set_file(tmp_path: Path, config_path: Path) -> None:
    from forecast.warnings.rules import rule_set_from_config

    plan = tmp_path / "plan.yaml"
    builtin = Path(__file__).resolve().parents[1] / "forecast/data/warnings/rulesets.yaml"
    local = yaml.safe_load(builtin.read_text(encoding="utf-8"))["rule_sets"]["2024"]
    plan.write_text(
        yaml.safe_dump({"version": 1, "rule_sets": {"urumqi-local": local}}, allow_unicode=True),
        encoding="utf-8",
    )

    def edit(raw_config: dict) -> None:  # type: ignore[type-arg]
        raw_config["warnings"].update(rule_set="urumqi-local", rule_set_file="plan.yaml")

    config = load_config(_write(tmp_path, config_path, edit))
    assert config.warnings.rule_set_file == plan.resolve()
    assert rule_set_from_config(config).name == "urumqi-local"

    def unknown(raw_config: dict) -> None:  # type: ignore[type-arg]
        raw_config["warnings"]["rule_set"] = "2030"

    with pytest.raises(ConfigError, match=r"rule_set '2030' is not defined; valid: 2018, 2024"):
        load_config(_write(tmp_path, config_path, unknown))


def test_a_dumped_config_loads_again(tmp_path: Path, config: Config) -> None:
    # Optional paths dumped as null (rule_set_file, training.pool) must load back.
    dumped = config.model_dump(mode="json", exclude={"source"})
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(dumped, allow_unicode=True), encoding="utf-8")
    again = load_config(path)
    assert again.warnings.rule_set_file is None and again.training.pool is None
    assert again.stations == config.stations
