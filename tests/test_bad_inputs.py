"""The bad-input corpus (tests/bad_inputs): every malformed file gets a specific error or a
documented, flagged repair, through the Python API and through the command line.

Each case names its file(s), the ``--format`` it is fed as, ``--city`` if any, and either the
text fragments the :class:`~forecast.errors.InputError` must contain (besides the file name) or
the notes of the repair. ``tests/bad_inputs/README.md`` describes every file.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forecast.cli import main
from forecast.config import Config, load_config
from forecast.errors import InputError
from forecast.obs.dataset import ImportResult, import_observations
from forecast.obs.flags import QC

CORPUS = Path(__file__).resolve().parent / "bad_inputs"
CONFIG_PATH = Path(__file__).parents[1] / "config.yaml"
#: A fixed clock for the API (the CLI uses the real clock: the future case is in 2099).
NOW = pd.Timestamp("2026-11-28")
#: Not inputs: the corpus description and its git attributes.
NOT_INPUTS = {"README.md", ".gitattributes"}
#: 2022-01-01 00:00 Beijing time, the hour of the cnemc files, in UTC.
HOUR_UTC = np.datetime64("2021-12-31T16:00")


@dataclass(frozen=True)
class Case:
    files: tuple[str, ...]
    fmt: str
    city: str | None = None
    #: Error cases: fragments of ``str(err)``; the error names ``error_file`` (default files[0]).
    error: tuple[str, ...] = ()
    error_file: str | None = None
    #: Repair cases: fragments that must appear among the import notes.
    notes: tuple[str, ...] = ()
    check: Callable[[ImportResult], None] | None = None

    @property
    def id(self) -> str:
        return "+".join(Path(f).stem for f in self.files) + f"-as-{self.fmt}"

    def paths(self) -> list[Path]:
        return [CORPUS / f for f in self.files]

    def cli_args(self, out: Path) -> list[str]:
        args = ["obs", "import", *map(str, self.paths()), "--format", self.fmt]
        args += ["--out", str(out), "--config", str(CONFIG_PATH)]
        return args + (["--city", self.city] if self.city else [])


CNEMC = "cnemc-hourly"
STATION = "station-hourly"

ERROR_CASES = [
    Case(
        ("cnemc_truncated_row_2022-01-01T00.csv",),
        CNEMC,
        error=("line 4", "the file looks truncated: the last row is incomplete", "22 fields"),
    ),
    Case(
        ("cnemc_truncated_in_quotes_2022-01-01T00.csv",),
        CNEMC,
        error=("line 4", "malformed CSV", "truncated inside a quoted field"),
    ),
    Case(("empty.csv",), CNEMC, error=("file is empty (0 bytes)", "expected a CSV table")),
    Case(
        ("whitespace_only.csv",),
        STATION,
        city="urumqi",
        error=("file is empty (10 bytes)", "expected a CSV table"),
    ),
    Case(
        ("cnemc_header_only_2022-01-01T00.csv",),
        CNEMC,
        error=("line 1", "no data rows after the header"),
    ),
    Case(
        ("cnemc_latin1_2022-01-01T00.csv",),
        CNEMC,
        error=(
            "line 2",
            "neither UTF-8 nor GBK/GB18030",
            "byte 0xfc at offset 214",
            "expected a CSV file encoded as UTF-8 (with or without BOM) or GBK",
        ),
    ),
    Case(
        ("cnemc_missing_pm2_5_2022-01-01T00.csv",),
        CNEMC,
        error=(
            "line 1",
            "header not recognised as cnemc-hourly: missing column(s) pm2_5",
            "expected a header with the columns timepoint, stationcode, pm2_5",
        ),
    ),
    Case(
        ("cnemc_extra_field_2022-01-01T00.csv",),
        CNEMC,
        error=("line 3", "row has 23 fields but the header has 22", "expected 22 fields"),
    ),
    Case(
        ("station_hourly_shifted_header.csv",),
        STATION,
        city="urumqi",
        error=(
            "line 1",
            "the header has 14 columns but every data row has 13 fields",
            "header shifted against the data",
        ),
    ),
    Case(
        ("cnemc_unknown_station_2022-01-01T00.csv",),
        CNEMC,
        error=(
            "line 3, column 'stationcode'",
            "station '3999A' in 乌鲁木齐市 is not in the config's station list for urumqi",
            "expected one of 1490A, 1491A, 1492A",
            "3440A (or add the station to config.yaml)",
        ),
    ),
    Case(
        ("station_hourly_unknown_name.csv",),
        STATION,
        city="urumqi",
        error=(
            "line 3, column 'WatchPoint'",
            "unknown station name for urumqi (got '收费站')",
            "expected one of 监测站, 收费所, 新疆农科院农场",
        ),
    ),
    Case(
        ("station_hourly_non_numeric.csv",),
        STATION,
        city="urumqi",
        error=(
            "line 3, column 'pm2.5'",
            "not a number (got '25μg/m³')",
            "expected a number or an empty cell",
        ),
    ),
    Case(
        ("cnemc_future_2099-01-01T00.csv",),
        CNEMC,
        error=(
            "line 2",
            "time is in the future (got '2099-01-01 00:00')",
            "Beijing time (clock error or wrong time zone?)",
        ),
    ),
    Case(
        ("cnemc_offset_0600_2022-01-01T00.csv",),
        CNEMC,
        error=(
            "line 2, column 'timepoint'",
            "time is not in Beijing time (got '2022-01-01T00:00:00+06:00')",
            "expected Beijing time (no offset, or +08:00)",
        ),
    ),
    Case(
        ("cnemc_urumqi_time_2022-01-01T00.csv",),
        CNEMC,
        error=(
            "line 2",
            "the file name says 2022-01-01 00:00 but the rows hold another time",
            "Urumqi time UTC+6",
            "(got '2021-12-31 22:00')",
            "expected every row at 2022-01-01 00:00 Beijing time",
        ),
    ),
    Case(
        ("station_hourly_as_cnemc.csv",),
        CNEMC,
        error=(
            "line 1",
            "this is a station-hourly file, not cnemc-hourly",
            "expected --format station-hourly for this file",
        ),
    ),
    Case(  # the header comes after a title line: still recognised as the other format
        ("station_hourly_preamble.csv",),
        CNEMC,
        error=("line 2", "this is a station-hourly file, not cnemc-hourly"),
    ),
    Case(  # a good cnemc file and a station-hourly file: the error names the second one
        ("cnemc_utf8_bom_2022-01-01T00.csv", "station_hourly_as_cnemc.csv"),
        CNEMC,
        error=("this is a station-hourly file, not cnemc-hourly",),
        error_file="station_hourly_as_cnemc.csv",
    ),
    Case(  # each file is fine alone; together they mix stations/hours with cities/days
        ("tidy_city_daily.csv", "tidy_station_hourly.csv"),
        "tidy",
        error=(
            "holds station 1h data but tidy_city_daily.csv holds city 1D data",
            "mixed formats in one call",
            "expected files of one kind and time step per import",
        ),
        error_file="tidy_station_hourly.csv",
    ),
    Case(
        ("station_hourly_hour25.csv",),
        STATION,
        city="urumqi",
        error=(
            "line 4, column 'hour'",
            "not an hour of the day (got '25')",
            "expected an integer hour 0–23",
        ),
    ),
    Case(
        ("station_hourly_bad_date.csv",),
        STATION,
        city="urumqi",
        error=(
            "line 3, column 'date'",
            "not a valid time (got '20200431')",
            "expected a date like 20200402 (YYYYMMDD)",
        ),
    ),
    Case(
        ("city_daily_no_city.csv",),
        "city-daily",
        error=(
            "cannot tell which city this table is for",
            "expected --city with one of urumqi (乌鲁木齐)",
        ),
    ),
    Case(
        ("china_sites_unknown_type_20220101.csv",),
        "china-sites",
        error=(
            "line 6, column 'type'",
            "unknown pollutant type (got 'PM1')",
            "expected one of AQI, PM2.5, PM10",
        ),
    ),
]


def _check_gbk(result: ImportResult) -> None:
    assert result.files[0].encoding == "gbk"
    sources = json.loads(result.dataset.attrs["source_files"])
    assert sources[0]["encoding"] == "gbk"
    # 艾青诗歌馆 (2709A) reported PM2.5 = 23 at 2020-04-02 08:00 Beijing time (00:00 UTC).
    pm25 = result.dataset["pm25"].sel(site="2709A", time=np.datetime64("2020-04-02T00:00"))
    assert pm25.item() == 23.0


def _check_bom(result: ImportResult) -> None:
    assert result.files[0].encoding == "utf-8-sig"
    assert result.dataset["pm25"].sel(site="1490A", time=HOUR_UTC).item() == 174.0


def _check_extra_column(result: ImportResult) -> None:
    assert "pm1" not in result.dataset
    assert result.dataset["pm25"].sel(site="1491A", time=HOUR_UTC).item() == 168.0


def _check_preamble(result: ImportResult) -> None:
    # 监测站 (1490A) reported PM2.5 = 41 at 2020-04-02 08:00 Beijing time.
    pm25 = result.dataset["pm25"].sel(site="1490A", time=np.datetime64("2020-04-02T00:00"))
    assert pm25.item() == 41.0


def _qc(result: ImportResult, site: str) -> int:
    return int(result.dataset["pm25_qc"].sel(site=site, time=HOUR_UTC).item())


def _check_exact_duplicate(result: ImportResult) -> None:
    assert result.dataset["pm25"].sel(site="1490A", time=HOUR_UTC).item() == 174.0
    assert _qc(result, "1490A") & QC.DUPLICATE
    assert not _qc(result, "1491A") & QC.DUPLICATE


def _check_conflict(result: ImportResult) -> None:
    # _a_ has 174, _b_ has 180: the later file in sorted order wins, whatever the given order.
    assert result.dataset["pm25"].sel(site="1490A", time=HOUR_UTC).item() == 180.0
    assert _qc(result, "1490A") & QC.DUPLICATE
    assert not _qc(result, "1491A") & QC.DUPLICATE
    assert not _qc(result, "1492A") & QC.DUPLICATE


REPAIR_CASES = [
    Case(
        ("station_hourly_gbk.csv",),
        STATION,
        city="shihezi",
        notes=("text is GBK/GB18030, not UTF-8: decoded as GB18030 (encoding gbk)",),
        check=_check_gbk,
    ),
    Case(("cnemc_utf8_bom_2022-01-01T00.csv",), CNEMC, check=_check_bom),
    Case(
        ("cnemc_extra_column_2022-01-01T00.csv",),
        CNEMC,
        notes=("ignored unknown column(s): pm1",),
        check=_check_extra_column,
    ),
    Case(
        ("station_hourly_preamble.csv",),
        STATION,
        city="urumqi",
        notes=("skipped 1 line(s) before the header on line 2 (repair)",),
        check=_check_preamble,
    ),
    Case(
        ("cnemc_exact_duplicate_2022-01-01T00.csv",),
        CNEMC,
        notes=("dropped 1 exact duplicate row(s) (flagged 'duplicate')",),
        check=_check_exact_duplicate,
    ),
    Case(
        ("cnemc_conflict_b_2022-01-01T00.csv", "cnemc_conflict_a_2022-01-01T00.csv"),
        CNEMC,
        notes=("1 site-time(s) had conflicting rows: kept the last",),
        check=_check_conflict,
    ),
    Case(
        ("cnemc_conflict_a_2022-01-01T00.csv", "cnemc_conflict_b_2022-01-01T00.csv"),
        CNEMC,
        notes=("1 site-time(s) had conflicting rows: kept the last",),
        check=_check_conflict,
    ),
]


@pytest.fixture(scope="module")
def repo_config() -> Config:
    return load_config(CONFIG_PATH)


@pytest.mark.parametrize("case", ERROR_CASES, ids=lambda c: c.id)
def test_bad_input_is_a_specific_error(case: Case, repo_config: Config) -> None:
    with pytest.raises(InputError) as caught:
        import_observations(case.paths(), case.fmt, repo_config, city=case.city, now=NOW)
    err = caught.value
    assert type(err) is InputError
    named = case.error_file or case.files[0]
    assert Path(err.path).name == named
    message = str(err)
    assert message.startswith(str(CORPUS / named) + ": ")
    for fragment in case.error:
        assert fragment in message


@pytest.mark.parametrize("case", ERROR_CASES, ids=lambda c: c.id)
def test_bad_input_on_the_command_line(
    case: Case, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "obs.nc"
    assert main(case.cli_args(out)) == 3
    stderr = capsys.readouterr().err
    assert "Traceback" not in stderr
    assert stderr.startswith(f"error: {CORPUS / (case.error_file or case.files[0])}: ")
    for fragment in case.error:
        assert fragment in stderr
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []  # no temporary file left behind


@pytest.mark.parametrize("case", REPAIR_CASES, ids=lambda c: c.id)
def test_repairable_input_imports_with_notes(case: Case, repo_config: Config) -> None:
    result = import_observations(case.paths(), case.fmt, repo_config, city=case.city, now=NOW)
    notes = "\n".join(result.notes)
    for fragment in case.notes:
        assert fragment in notes
    if case.check is not None:
        case.check(result)


@pytest.mark.parametrize("case", REPAIR_CASES, ids=lambda c: c.id)
def test_repairable_input_on_the_command_line(
    case: Case, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "obs.nc"
    assert main(case.cli_args(out)) == 0
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    for fragment in case.notes:
        assert fragment in captured.out
    assert out.is_file()


def test_failed_import_keeps_the_existing_output_byte_identical(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "obs.nc"
    good = REPAIR_CASES[1]
    assert main(good.cli_args(out)) == 0
    before = out.read_bytes()
    for bad in ERROR_CASES:
        assert main(bad.cli_args(out)) == 3, bad.id
        assert out.read_bytes() == before, bad.id
    assert [p.name for p in tmp_path.iterdir()] == ["obs.nc"]
    assert "Traceback" not in capsys.readouterr().err


def test_every_corpus_file_is_exercised_and_described() -> None:
    on_disk = {p.name for p in CORPUS.iterdir()} - NOT_INPUTS
    used = {f for case in [*ERROR_CASES, *REPAIR_CASES] for f in case.files}
    assert on_disk == used
    assert len(on_disk) >= 18
    readme = (CORPUS / "README.md").read_text(encoding="utf-8")
    undescribed = sorted(name for name in on_disk if f"`{name}`" not in readme)
    assert undescribed == []


def test_corpus_encodings_are_what_the_cases_claim() -> None:
    latin1 = (CORPUS / "cnemc_latin1_2022-01-01T00.csv").read_bytes()
    for encoding in ("utf-8", "gb18030"):
        with pytest.raises(UnicodeDecodeError):
            latin1.decode(encoding)
    gbk = (CORPUS / "station_hourly_gbk.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        gbk.decode("utf-8")
    assert "艾青诗歌馆" in gbk.decode("gbk")
    assert (CORPUS / "cnemc_utf8_bom_2022-01-01T00.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    assert (CORPUS / "empty.csv").stat().st_size == 0
    truncated = (CORPUS / "cnemc_truncated_row_2022-01-01T00.csv").read_bytes()
    assert not truncated.endswith(b"\n")
