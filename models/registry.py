"""A versioned store of LightGBM models, one directory per city and version, never pickled.

Layout under the registry root (``data.models_dir`` in ``config.yaml``)::

    <root>/<city>/CURRENT                 the current version id, e.g. "v0003\\n"
    <root>/<city>/v0003/model.txt         one booster, LightGBM text format, or
    <root>/<city>/v0003/model-<name>.txt  a set of boosters (one per quantile, lead band, …)
    <root>/<city>/v0003/card.json         the :class:`ModelCard` sidecar, written last

* Models are stored only as LightGBM text (``Booster.model_to_string()``) and loaded only with
  ``lightgbm.Booster(model_str=...)``. Nothing here imports or calls pickle / joblib, and a file
  that is not LightGBM text (a pickle, a joblib dump, anything binary) is refused by content
  before LightGBM sees it.
* Every file goes through :func:`forecast.io.write_bytes_atomic`; ``card.json`` is written after
  the model files, so a version directory without ``card.json`` is an interrupted save: it is
  not listed and its number is never reused.
* Version ids ``v0001, v0002, …`` are monotonic per city (the next id is one more than the
  largest directory ever created, complete or not); a version is claimed by creating its
  directory (``mkdir`` fails if another process took it first).
* The card records sha256 hashes of the model files; loading re-checks them.
* Loading checks the card against the feature catalogue the caller is running with and raises
  :class:`ModelMismatchError` naming the city, the version and what differs.
* Nothing reads the wall clock: ``created`` and ``code_version`` come from the caller, so that a
  retrained model is byte-identical for identical inputs.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import platform
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Final

import lightgbm
import numpy as np
import numpy.typing as npt
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from forecast.errors import WcsError
from forecast.io import sha256_file, write_bytes_atomic

#: City ids as directory names: lower-case letters, digits, '_' and '-' (no '.', no '/').
CITY_ID: Final = re.compile(r"^[a-z0-9_-]+$")
#: Version ids: 'v' and at least four digits; sorted by their number.
VERSION_ID: Final = re.compile(r"^v(\d{4,})$")
#: Names of the members of a booster set (file ``model-<name>.txt``), e.g. ``q0.5``, ``lead1-3``.
MEMBER_NAME: Final = re.compile(r"^[a-z0-9_-][a-z0-9_.-]*$")
CARD_FILE: Final = "card.json"
CURRENT_FILE: Final = "CURRENT"
CARD_SCHEMA_VERSION: Final = 1

_NOT_TEXT: Final = "model files must be LightGBM text format; pickles are never loaded"
#: The first bytes of a LightGBM text model (``Booster.model_to_string()``).
_LGBM_MAGIC: Final = b"tree\n"


class RegistryError(WcsError):
    """A model registry problem (missing version, unusable file)."""


class ModelNotFoundError(RegistryError, LookupError):
    """The requested city or version has no saved model."""


class ModelFormatError(RegistryError):
    """A stored file is not what the registry wrote (not LightGBM text, modified, bad card)."""


class ModelMismatchError(RegistryError):
    """The saved model does not match the feature catalogue the caller runs with."""


# --------------------------------------------------------------------------------------------
# the sidecar


def library_versions() -> dict[str, str]:
    """Versions of the libraries a model depends on (recorded in the card)."""
    import sklearn

    return {
        "lightgbm": str(lightgbm.__version__),
        "numpy": str(np.__version__),
        "sklearn": str(sklearn.__version__),
        "pandas": str(pd.__version__),
        "python": platform.python_version(),
    }


def code_version(describe: str | None = None) -> str:
    """The code version to record: ``describe`` (e.g. ``git describe --always --dirty``, run by
    the caller) when given and non-empty, else ``wcs-forecast <package version>``.

    The registry never runs git itself.
    """
    if describe is not None and describe.strip():
        return describe.strip()
    try:
        return f"wcs-forecast {importlib.metadata.version('wcs-forecast')}"
    except importlib.metadata.PackageNotFoundError:
        return "wcs-forecast (unknown version)"


def hash_training_data(
    X: npt.ArrayLike | pd.DataFrame, y: npt.ArrayLike | pd.Series | None = None
) -> str:
    """sha256 of the training data, as hex.

    Each array is converted to float32, C-contiguous; NaNs are made canonical (one bit pattern),
    and the hash covers, per array, its name (``X`` / ``y``), its shape and its bytes. Column
    names are not hashed (the card records the feature names separately); row and column order
    are. Identical data in float64 or float32, numpy or pandas, hash the same.
    """
    h = hashlib.sha256()
    for name, arr in (("X", X), ("y", y)):
        if arr is None:
            continue
        values = arr.to_numpy() if isinstance(arr, pd.DataFrame | pd.Series) else arr
        a = np.ascontiguousarray(np.asarray(values, dtype=np.float32))
        a = np.where(np.isnan(a), np.float32(np.nan), a).astype(np.float32, copy=False)
        h.update(f"{name}:{a.shape}:float32:".encode())
        h.update(a.tobytes(order="C"))
    return h.hexdigest()


def _jsonable(value: Any) -> Any:
    """Numpy scalars and arrays, tuples and timestamps → plain JSON values (recursively)."""
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return [_jsonable(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        return _jsonable(value.item())
    if isinstance(value, pd.Timestamp | datetime):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    return value


class TrainingWindow(BaseModel):
    """The first and last target (valid) time of the training samples, naive UTC."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    start: datetime
    end: datetime


class ModelCard(BaseModel):
    """The JSON sidecar of one saved model version (``card.json``).

    ``version`` and ``files`` are filled in by :meth:`ModelRegistry.save`; everything else comes
    from the caller. Non-finite floats in ``params`` / ``backtest_metrics`` are written as
    JSON ``null``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, ser_json_inf_nan="null")

    schema_version: int = CARD_SCHEMA_VERSION
    city: str
    version: str | None = None
    created: datetime = Field(description="when the model was made, from the caller (UTC)")
    kind: str = Field(
        "point", description="'point', 'quantile-set', 'exceedance-set', 'lead-set', …"
    )
    feature_catalogue_version: str
    feature_names: tuple[str, ...]
    params: dict[str, Any] = Field(default_factory=dict)
    library_versions: dict[str, str] = Field(default_factory=library_versions)
    training_window: TrainingWindow
    training_data_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    n_training_samples: int | None = Field(None, ge=0)
    backtest_metrics: dict[str, Any] = Field(default_factory=dict)
    code_version: str
    target_transform: str = Field("identity", description="e.g. 'identity', 'log1p'")
    quantiles: tuple[float, ...] = ()
    #: member name → file name; ``{"": "model.txt"}`` for a single booster.
    files: dict[str, str] = Field(default_factory=dict)
    #: file name → sha256 of its bytes.
    file_sha256: dict[str, str] = Field(default_factory=dict)

    @field_validator("feature_catalogue_version", mode="before")
    @classmethod
    def _catalogue_as_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @field_validator("params", "backtest_metrics", mode="before")
    @classmethod
    def _plain_json(cls, value: Any) -> Any:
        return _jsonable(value) if isinstance(value, Mapping) else value

    @field_validator("city")
    @classmethod
    def _safe_city(cls, value: str) -> str:
        return sanitize_city(value)

    @field_validator("feature_names")
    @classmethod
    def _unique_names(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        dup = sorted({n for n in value if value.count(n) > 1})
        if dup:
            raise ValueError(f"duplicate feature names: {', '.join(dup)}")
        return value


@dataclass(frozen=True)
class LoadedModel:
    """A loaded version: its card and its boosters (``{"": booster}`` for a single one)."""

    card: ModelCard
    boosters: dict[str, lightgbm.Booster]

    @property
    def booster(self) -> lightgbm.Booster:
        """The single booster of a point model (error for a booster set)."""
        if set(self.boosters) != {""}:
            raise ValueError(
                f"{self.card.city} {self.card.version} is a booster set "
                f"({', '.join(sorted(self.boosters))}); use .boosters[name]"
            )
        return self.boosters[""]


# --------------------------------------------------------------------------------------------
# helpers


def sanitize_city(city: str) -> str:
    """The city id as a directory name: stripped, lower-cased, and only ``[a-z0-9_-]``.

    Anything else ('..', '/', spaces, Chinese names) is refused rather than rewritten, so that
    two different inputs can never land in the same directory.
    """
    if not isinstance(city, str):
        raise TypeError(f"city id must be a string, got {type(city).__name__}")
    cid = city.strip().lower()
    if not CITY_ID.fullmatch(cid):
        raise ValueError(f"invalid city id {city!r}: only lower-case a-z, 0-9, '_' and '-'")
    return cid


def _check_version(version: str) -> str:
    if not isinstance(version, str) or not VERSION_ID.fullmatch(version):
        raise ValueError(f"invalid version id {version!r}; expected e.g. 'v0001'")
    return version


def _version_number(name: str) -> int | None:
    m = VERSION_ID.fullmatch(name)
    return int(m.group(1)) if m else None


def _looks_like_pickle(data: bytes) -> bool:
    # protocol 2+ starts with PROTO (0x80); joblib's zlib/gzip/lzma/xz dumps; protocols 0/1
    # start with an opcode such as '(' MARK, ']' EMPTY_LIST, '}' EMPTY_DICT, 'c' GLOBAL.
    return (
        data[:1] == b"\x80"
        or data[:2] in (b"x\x9c", b"x\x01", b"x\xda", b"\x1f\x8b", b"\x5d\x00")
        or data[:6] == b"\xfd7zXZ\x00"
        or (data[:1] in (b"(", b"]", b"}", b"c") and data.rstrip().endswith(b"."))
    )


def _decode_model_text(data: bytes, path: Path) -> str:
    if not data.startswith(_LGBM_MAGIC):
        what = (
            "looks like a pickle/joblib dump" if _looks_like_pickle(data) else "not LightGBM text"
        )
        raise ModelFormatError(f"{path}: {_NOT_TEXT} ({what})")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ModelFormatError(f"{path}: {_NOT_TEXT} (not UTF-8 text)") from None


def _names_diff(saved: Sequence[str], expected: Sequence[str]) -> list[str]:
    """Human-readable differences between the saved and the expected feature names."""
    out: list[str] = []
    missing = [n for n in expected if n not in set(saved)]
    extra = [n for n in saved if n not in set(expected)]

    def show(names: list[str]) -> str:
        return ", ".join(names[:10]) + (f", … ({len(names) - 10} more)" if len(names) > 10 else "")

    if missing:
        out.append(f"{len(missing)} feature(s) missing from the model: {show(missing)}")
    if extra:
        out.append(f"{len(extra)} feature(s) in the model but not in the catalogue: {show(extra)}")
    if not missing and not extra and list(saved) != list(expected):
        i = next(i for i, (a, b) in enumerate(zip(saved, expected, strict=True)) if a != b)
        out.append(
            f"feature order differs from position {i}: model has {saved[i]!r}, "
            f"catalogue has {expected[i]!r}"
        )
    return out


def _booster_feature_check(booster: lightgbm.Booster, names: Sequence[str], what: str) -> None:
    n = booster.num_feature()
    if n != len(names):
        raise ValueError(f"{what}: the booster has {n} features, the card names {len(names)}")
    own = list(booster.feature_name())
    default = [f"Column_{i}" for i in range(n)]
    if own != default and own != list(names):
        diff = "; ".join(_names_diff(own, names)) or "names differ"
        raise ValueError(f"{what}: the booster's feature names differ from the card's: {diff}")


# --------------------------------------------------------------------------------------------
# the registry


class ModelRegistry:
    """Saved models under ``root`` (``config.data.models_dir``): versions, cards, CURRENT."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    # ---- paths & listing --------------------------------------------------------------------
    def city_dir(self, city: str) -> Path:
        return self.root / sanitize_city(city)

    def version_dir(self, city: str, version: str) -> Path:
        return self.city_dir(city) / _check_version(version)

    def list_versions(self, city: str) -> list[str]:
        """Complete versions of ``city`` (those with a ``card.json``), oldest first."""
        cdir = self.city_dir(city)
        if not cdir.is_dir():
            return []
        found = [
            (num, p.name)
            for p in cdir.iterdir()
            if (num := _version_number(p.name)) is not None and (p / CARD_FILE).is_file()
        ]
        return [name for _, name in sorted(found)]

    def current(self, city: str) -> str | None:
        """The version marked current for ``city``, or None."""
        path = self.city_dir(city) / CURRENT_FILE
        if not path.is_file():
            return None
        version = path.read_text(encoding="utf-8").strip()
        try:
            return _check_version(version)
        except ValueError:
            raise ModelFormatError(f"{path}: not a version id: {version!r}") from None

    def set_current(self, city: str, version: str) -> None:
        """Mark ``version`` (which must be a complete saved version) as current for ``city``."""
        cid = sanitize_city(city)
        if version not in self.list_versions(cid):
            raise ModelNotFoundError(self._not_found(cid, version))
        write_bytes_atomic(self.city_dir(cid) / CURRENT_FILE, f"{version}\n".encode())

    def read_card(self, city: str, version: str | None = None) -> ModelCard:
        """The card of ``version`` (default: the current one), validated."""
        cid = sanitize_city(city)
        version = self._resolve(cid, version)
        path = self.version_dir(cid, version) / CARD_FILE
        try:
            card = ModelCard.model_validate_json(path.read_bytes())
        except FileNotFoundError:
            raise ModelNotFoundError(self._not_found(cid, version)) from None
        except ValidationError as exc:
            raise ModelFormatError(f"{path}: not a valid model card: {exc}") from None
        if card.city != cid or card.version != version:
            raise ModelFormatError(
                f"{path}: the card is for {card.city} {card.version}, found in {cid}/{version}"
            )
        return card

    # ---- save ---------------------------------------------------------------------------------
    def save(
        self,
        city: str,
        booster: lightgbm.Booster | Mapping[str, lightgbm.Booster],
        sidecar: ModelCard,
    ) -> str:
        """Save a booster (→ ``model.txt``) or a named set (→ ``model-<name>.txt``) and its card
        as the next version of ``city``; return the version id. CURRENT is not changed."""
        cid = sanitize_city(city)
        if sidecar.city != cid:
            raise ValueError(f"the card is for city {sidecar.city!r}, saving under {cid!r}")
        members = self._members(booster, sidecar)
        texts: dict[str, bytes] = {}
        files: dict[str, str] = {}
        for name, b in members.items():
            _booster_feature_check(b, sidecar.feature_names, f"{cid} booster {name or 'model'}")
            fname = f"model-{name}.txt" if name else "model.txt"
            files[name] = fname
            texts[fname] = b.model_to_string().encode("utf-8")

        version, vdir = self._claim_version(cid)
        hashes: dict[str, str] = {}
        for fname, data in texts.items():
            write_bytes_atomic(vdir / fname, data)
            hashes[fname] = sha256_file(vdir / fname)
        card = sidecar.model_copy(
            update={"version": version, "files": files, "file_sha256": hashes}
        )
        # Validate the filled-in card (model_copy skips validation) and write it last.
        card = ModelCard.model_validate(card.model_dump())
        write_bytes_atomic(vdir / CARD_FILE, card.model_dump_json(indent=2).encode("utf-8") + b"\n")
        return version

    @staticmethod
    def _members(
        booster: lightgbm.Booster | Mapping[str, lightgbm.Booster], card: ModelCard
    ) -> dict[str, lightgbm.Booster]:
        if isinstance(booster, lightgbm.Booster):
            return {"": booster}
        if not isinstance(booster, Mapping) or not booster:
            raise TypeError(
                "booster must be a lightgbm.Booster or a non-empty dict of them, "
                f"got {type(booster).__name__}"
            )
        out: dict[str, lightgbm.Booster] = {}
        for name, b in booster.items():
            if not isinstance(name, str) or not MEMBER_NAME.fullmatch(name):
                raise ValueError(
                    f"invalid booster name {name!r}: lower-case a-z, 0-9, '_', '-', '.' (not first)"
                )
            if not isinstance(b, lightgbm.Booster):
                raise TypeError(f"booster {name!r} is a {type(b).__name__}, not lightgbm.Booster")
            out[name] = b
        return out

    def _claim_version(self, cid: str) -> tuple[str, Path]:
        cdir = self.city_dir(cid)
        cdir.mkdir(parents=True, exist_ok=True)
        while True:
            numbers = [n for p in cdir.iterdir() if (n := _version_number(p.name)) is not None]
            version = f"v{max(numbers, default=0) + 1:04d}"
            vdir = cdir / version
            try:
                vdir.mkdir()
            except FileExistsError:  # another process claimed it: take the next one
                continue
            return version, vdir

    # ---- load ---------------------------------------------------------------------------------
    def load(
        self,
        city: str,
        version: str | None = None,
        *,
        expected_catalogue_version: str | int,
        expected_feature_names: Sequence[str],
    ) -> LoadedModel:
        """Load ``version`` (default: CURRENT) after checking it against the caller's catalogue.

        Raises :class:`ModelMismatchError` when the feature catalogue version or the feature
        names (set or order) differ, :class:`ModelFormatError` for files that are not LightGBM
        text or were modified after saving, :class:`ModelNotFoundError` for unknown versions.
        """
        cid = sanitize_city(city)
        version = self._resolve(cid, version)
        card = self.read_card(cid, version)

        problems: list[str] = []
        if card.feature_catalogue_version != str(expected_catalogue_version):
            problems.append(
                f"feature catalogue {card.feature_catalogue_version} != "
                f"{expected_catalogue_version} (model != running code)"
            )
        problems += _names_diff(card.feature_names, list(expected_feature_names))
        if problems:
            raise ModelMismatchError(
                f"model {cid} {version} does not match the current feature catalogue: "
                + "; ".join(problems)
                + ". Retrain the model or run the matching code version "
                f"({card.code_version})."
            )

        vdir = self.version_dir(cid, version)
        boosters: dict[str, lightgbm.Booster] = {}
        for name, fname in card.files.items():
            path = vdir / fname
            try:
                data = path.read_bytes()
            except FileNotFoundError:
                raise ModelFormatError(
                    f"{path}: model file listed in the card is missing"
                ) from None
            text = _decode_model_text(data, path)
            if hashlib.sha256(data).hexdigest() != card.file_sha256.get(fname):
                raise ModelFormatError(f"{path}: contents changed since the model was saved")
            try:
                b = lightgbm.Booster(model_str=text)
            except lightgbm.basic.LightGBMError as exc:
                raise ModelFormatError(f"{path}: LightGBM cannot read it: {exc}") from None
            try:
                _booster_feature_check(b, card.feature_names, f"{cid} {version} {fname}")
            except ValueError as exc:
                raise ModelFormatError(str(exc)) from None
            boosters[name] = b
        if not boosters:
            raise ModelFormatError(f"{vdir / CARD_FILE}: the card lists no model files")
        return LoadedModel(card=card, boosters=boosters)

    # ---- internals ----------------------------------------------------------------------------
    def _resolve(self, cid: str, version: str | None) -> str:
        if version is None:
            current = self.current(cid)
            if current is None:
                raise ModelNotFoundError(
                    f"no current model for {cid}: mark one with set_current; saved versions: "
                    f"{', '.join(self.list_versions(cid)) or 'none'}"
                )
            return current
        return _check_version(version)

    def _not_found(self, cid: str, version: str) -> str:
        return (
            f"no saved model {cid} {version} under {self.root}; saved versions: "
            f"{', '.join(self.list_versions(cid)) or 'none'}"
        )
