"""Decoding and tokenising the CSV text the national network and its archives publish.

Files arrive as UTF-8 (with or without a byte-order mark), GBK/GB18030 (Chinese Windows
exports) or, rarely, UTF-16 with a BOM. The encoding is detected, never guessed silently: the
one used is recorded in the dataset's provenance.
"""

from __future__ import annotations

import codecs
import csv
import io
from dataclasses import dataclass
from pathlib import Path

from forecast.errors import input_error

#: Cell texts that mean "no value" in published tables (compared after stripping whitespace).
MISSING_MARKERS: frozenset[str] = frozenset(
    {"", "nan", "NaN", "NAN", "NA", "N/A", "n/a", "null", "NULL", "None", "-", "--", "—", "/"}
)

#: How many leading lines may precede the header (titles, export banners) and be skipped.
MAX_PREAMBLE_LINES = 5


@dataclass(frozen=True)
class DecodedText:
    text: str
    encoding: str


def decode_file(path: Path) -> DecodedText:
    """Read ``path`` and decode it as UTF-8, UTF-8 with BOM, UTF-16 with BOM or GB18030 (GBK)."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise input_error(path, "file not found") from None
    except IsADirectoryError:
        raise input_error(path, "is a directory, expected a CSV file") from None
    except OSError as exc:
        raise input_error(path, f"cannot be read: {exc.strerror}") from None
    if not raw.strip():
        raise input_error(path, f"file is empty ({len(raw)} bytes), expected a CSV table")
    if raw.startswith(codecs.BOM_UTF8):
        return DecodedText(_decode(path, raw[3:], "utf-8"), "utf-8-sig")
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return DecodedText(_decode(path, raw, "utf-16"), "utf-16")
    try:
        return DecodedText(raw.decode("utf-8"), "utf-8")
    except UnicodeDecodeError as utf8_error:
        try:
            return DecodedText(raw.decode("gb18030"), "gbk")
        except UnicodeDecodeError:
            raise input_error(
                path,
                f"text is neither UTF-8 nor GBK/GB18030: undecodable byte "
                f"0x{raw[utf8_error.start]:02x} at offset {utf8_error.start}",
                line=raw.count(b"\n", 0, utf8_error.start) + 1,
                expected="a CSV file encoded as UTF-8 (with or without BOM) or GBK",
            ) from None


def _decode(path: Path, raw: bytes, encoding: str) -> str:
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError as exc:
        raise input_error(
            path,
            f"the byte-order mark says {encoding} but byte offset {exc.start} is not valid",
            line=raw[: exc.start].decode(encoding, errors="replace").count("\n") + 1,
        ) from None


@dataclass
class Table:
    """Rows of a CSV file with the 1-based line number each row starts on."""

    header: list[str]
    rows: list[list[str]]
    lines: list[int]
    header_line: int


def normalise_name(name: str) -> str:
    """Column names compared case- and whitespace-insensitively (BOM remnants removed)."""
    return name.replace("\ufeff", "").strip().lower()


def tokenise(path: Path, text: str) -> list[tuple[int, list[str]]]:
    """All CSV records with their starting line numbers; a broken quote is an error."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    records: list[tuple[int, list[str]]] = []
    line = 1
    try:
        for row in reader:
            records.append((line, row))
            line = reader.line_num + 1
    except csv.Error as exc:
        raise input_error(
            path,
            f"malformed CSV ({exc}); the file may be truncated inside a quoted field",
            line=line,
        ) from None
    return [(n, r) for n, r in records if any(cell.strip() for cell in r)]
