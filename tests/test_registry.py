"""Tests of models.registry: LightGBM text + JSON card, versions, CURRENT, refusals."""

from __future__ import annotations

import ast
import json
import pickle
from datetime import datetime
from pathlib import Path

import lightgbm
import numpy as np
import pandas as pd
import pytest

from forecast.io import sha256_file
from models.registry import (
    ModelCard,
    ModelFormatError,
    ModelMismatchError,
    ModelNotFoundError,
    ModelRegistry,
    TrainingWindow,
    code_version,
    hash_training_data,
    sanitize_city,
)

FEATURES = ("pm25_lag1", "pm25_mean24", "blh", "t850_minus_t2m")
CATALOGUE = "v3"


def _train(seed: int = 0, objective: str = "regression", alpha: float | None = None):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(300, len(FEATURES)))
    y = 80 + 30 * X[:, 0] - 10 * X[:, 2] + rng.normal(scale=5, size=300)
    params = {
        "objective": objective,
        "num_threads": 1,
        "deterministic": True,
        "force_row_wise": True,
        "seed": seed,
        "verbosity": -1,
        "num_leaves": 7,
        "min_data_in_leaf": 5,
    }
    if alpha is not None:
        params["alpha"] = alpha
    ds = lightgbm.Dataset(X, y, feature_name=list(FEATURES), free_raw_data=False)
    booster = lightgbm.train(params, ds, num_boost_round=20)
    return booster, X, y, params


def _card(X: np.ndarray, y: np.ndarray, params: dict, **kw) -> ModelCard:
    base = {
        "city": "urumqi",
        "created": datetime(2024, 5, 1, 2, 0),
        "feature_catalogue_version": CATALOGUE,
        "feature_names": FEATURES,
        "params": params,
        "training_window": TrainingWindow(
            start=datetime(2013, 10, 1), end=datetime(2015, 9, 23, 16)
        ),
        "training_data_sha256": hash_training_data(X, y),
        "n_training_samples": len(y),
        "backtest_metrics": {"lead1": {"rmse": np.float64(31.5), "csi_150": float("nan")}},
        "code_version": code_version("v0.1.0-12-gabcdef0"),
        "target_transform": "log1p",
    }
    base.update(kw)
    return ModelCard(**base)


@pytest.fixture
def trained():
    return _train()


def _load(reg: ModelRegistry, city: str = "urumqi", version: str | None = None, **kw):
    kw.setdefault("expected_catalogue_version", CATALOGUE)
    kw.setdefault("expected_feature_names", list(FEATURES))
    return reg.load(city, version, **kw)


def test_round_trip_identical_predictions(tmp_path: Path, trained) -> None:
    booster, X, y, params = trained
    reg = ModelRegistry(tmp_path)
    version = reg.save("urumqi", booster, _card(X, y, params))
    assert version == "v0001"
    vdir = tmp_path / "urumqi" / "v0001"
    assert sorted(p.name for p in vdir.iterdir()) == ["card.json", "model.txt"]
    assert (vdir / "model.txt").read_text().startswith("tree\n")

    loaded = _load(reg, version="v0001")
    Xtest = np.random.default_rng(99).normal(size=(50, len(FEATURES)))
    np.testing.assert_array_equal(loaded.booster.predict(Xtest), booster.predict(Xtest))
    card = loaded.card
    assert card.version == "v0001"
    assert card.feature_names == FEATURES
    assert card.created == datetime(2024, 5, 1, 2, 0)
    assert card.code_version == "v0.1.0-12-gabcdef0"
    assert card.target_transform == "log1p"
    assert card.training_data_sha256 == hash_training_data(X, y)
    assert set(card.library_versions) >= {"lightgbm", "numpy", "sklearn", "python"}
    assert card.library_versions["lightgbm"] == lightgbm.__version__
    assert card.file_sha256 == {"model.txt": sha256_file(vdir / "model.txt")}
    # numpy scalars became plain JSON; NaN became null
    raw = json.loads((vdir / "card.json").read_text())
    assert raw["backtest_metrics"] == {"lead1": {"rmse": 31.5, "csi_150": None}}
    assert raw["params"]["num_threads"] == 1


def test_quantile_set_round_trip(tmp_path: Path) -> None:
    members = {f"q{q}": _train(objective="quantile", alpha=q)[0] for q in (0.1, 0.5, 0.9)}
    _, X, y, params = _train()
    reg = ModelRegistry(tmp_path)
    card = _card(X, y, params, kind="quantile-set", quantiles=(0.1, 0.5, 0.9))
    version = reg.save("changji", members, card.model_copy(update={"city": "changji"}))
    files = sorted(p.name for p in (tmp_path / "changji" / version).iterdir())
    assert files == ["card.json", "model-q0.1.txt", "model-q0.5.txt", "model-q0.9.txt"]
    loaded = _load(reg, "changji", version)
    assert set(loaded.boosters) == {"q0.1", "q0.5", "q0.9"}
    for name, b in members.items():
        np.testing.assert_array_equal(loaded.boosters[name].predict(X), b.predict(X))
    assert loaded.card.kind == "quantile-set"
    assert loaded.card.quantiles == (0.1, 0.5, 0.9)
    with pytest.raises(ValueError, match="booster set"):
        _ = loaded.booster


def test_catalogue_version_mismatch_refused(tmp_path: Path, trained) -> None:
    booster, X, y, params = trained
    reg = ModelRegistry(tmp_path)
    reg.save("urumqi", booster, _card(X, y, params))
    with pytest.raises(ModelMismatchError) as exc:
        _load(reg, version="v0001", expected_catalogue_version="v4")
    msg = str(exc.value)
    assert "urumqi" in msg
    assert "v0001" in msg
    assert "feature catalogue v3 != v4" in msg


def test_missing_and_extra_features_named(tmp_path: Path, trained) -> None:
    booster, X, y, params = trained
    reg = ModelRegistry(tmp_path)
    reg.save("urumqi", booster, _card(X, y, params))
    expected = [*FEATURES[:2], "snow_depth", "rh2m"]  # blh, t850_minus_t2m dropped
    with pytest.raises(ModelMismatchError) as exc:
        _load(
            reg, version="v0001", expected_catalogue_version="v4", expected_feature_names=expected
        )
    msg = str(exc.value)
    assert "feature catalogue v3 != v4" in msg
    assert "2 feature(s) missing from the model: snow_depth, rh2m" in msg
    assert "2 feature(s) in the model but not in the catalogue: blh, t850_minus_t2m" in msg


def test_feature_order_mismatch_refused(tmp_path: Path, trained) -> None:
    booster, X, y, params = trained
    reg = ModelRegistry(tmp_path)
    reg.save("urumqi", booster, _card(X, y, params))
    swapped = [FEATURES[1], FEATURES[0], *FEATURES[2:]]
    with pytest.raises(ModelMismatchError, match="feature order differs from position 0"):
        _load(reg, version="v0001", expected_feature_names=swapped)
    # same names and catalogue: accepted
    assert _load(reg, version="v0001").card.version == "v0001"


def test_pickle_in_place_of_model_refused(tmp_path: Path, trained) -> None:
    booster, X, y, params = trained
    reg = ModelRegistry(tmp_path)
    reg.save("urumqi", booster, _card(X, y, params))
    model = tmp_path / "urumqi" / "v0001" / "model.txt"
    # A pickle of harmless data (never of an object that could run code on load).
    model.write_bytes(pickle.dumps({"trees": [1, 2, 3]}, protocol=pickle.HIGHEST_PROTOCOL))
    with pytest.raises(ModelFormatError) as exc:
        _load(reg, version="v0001")
    msg = str(exc.value)
    assert "model files must be LightGBM text format; pickles are never loaded" in msg
    assert "looks like a pickle" in msg
    assert "model.txt" in msg


def test_non_lightgbm_text_refused(tmp_path: Path, trained) -> None:
    booster, X, y, params = trained
    reg = ModelRegistry(tmp_path)
    reg.save("urumqi", booster, _card(X, y, params))
    (tmp_path / "urumqi" / "v0001" / "model.txt").write_text("hello\n")
    with pytest.raises(ModelFormatError, match="must be LightGBM text format"):
        _load(reg, version="v0001")


def test_modified_model_refused(tmp_path: Path, trained) -> None:
    booster, X, y, params = trained
    reg = ModelRegistry(tmp_path)
    reg.save("urumqi", booster, _card(X, y, params))
    other, *_ = _train(seed=5)
    (tmp_path / "urumqi" / "v0001" / "model.txt").write_text(other.model_to_string())
    with pytest.raises(ModelFormatError, match="changed since the model was saved"):
        _load(reg, version="v0001")


def test_versions_monotonic_and_current(tmp_path: Path, trained) -> None:
    booster, X, y, params = trained
    reg = ModelRegistry(tmp_path)
    card = _card(X, y, params)
    assert reg.list_versions("urumqi") == []
    assert reg.current("urumqi") is None
    with pytest.raises(ModelNotFoundError, match="no current model for urumqi"):
        _load(reg)
    v = [reg.save("urumqi", booster, card) for _ in range(3)]
    assert v == ["v0001", "v0002", "v0003"]
    # an interrupted save (directory without card) is not listed and its id never reused
    (tmp_path / "urumqi" / "v0004").mkdir()
    assert reg.list_versions("urumqi") == ["v0001", "v0002", "v0003"]
    assert reg.save("urumqi", booster, card) == "v0005"
    # other cities number independently
    assert reg.save("shihezi", booster, card.model_copy(update={"city": "shihezi"})) == "v0001"

    reg.set_current("urumqi", "v0002")
    assert (tmp_path / "urumqi" / "CURRENT").read_text() == "v0002\n"
    assert reg.current("urumqi") == "v0002"
    assert _load(reg).card.version == "v0002"
    reg.set_current("urumqi", "v0005")
    assert _load(reg).card.version == "v0005"
    with pytest.raises(ModelNotFoundError, match="v0004"):
        reg.set_current("urumqi", "v0004")
    with pytest.raises(ModelNotFoundError, match="saved versions: v0001, v0002, v0003, v0005"):
        _load(reg, version="v0009")
    # versions are kept
    assert reg.list_versions("urumqi") == ["v0001", "v0002", "v0003", "v0005"]


def test_version_order_past_9999(tmp_path: Path, trained) -> None:
    booster, X, y, params = trained
    reg = ModelRegistry(tmp_path)
    (tmp_path / "urumqi" / "v9999").mkdir(parents=True)
    assert reg.save("urumqi", booster, _card(X, y, params)) == "v10000"
    assert reg.save("urumqi", booster, _card(X, y, params)) == "v10001"
    assert reg.list_versions("urumqi") == ["v10000", "v10001"]


def test_path_sanitisation(tmp_path: Path, trained) -> None:
    booster, X, y, params = trained
    reg = ModelRegistry(tmp_path / "models")
    assert sanitize_city(" Urumqi ") == "urumqi"
    for bad in ("../urumqi", "urumqi/x", "a.b", "", "乌鲁木齐", "ur umqi", "..", "/etc"):
        with pytest.raises(ValueError, match="invalid city id"):
            sanitize_city(bad)
    with pytest.raises(ValueError, match="invalid city id"):
        reg.save("../evil", booster, _card(X, y, params))
    with pytest.raises(ValueError, match="invalid version id"):
        _load(reg, version="../v0001")
    with pytest.raises(ValueError, match="invalid booster name"):
        reg.save("urumqi", {"../q": booster}, _card(X, y, params))
    with pytest.raises(ValueError, match="the card is for city"):
        reg.save("changji", booster, _card(X, y, params))
    assert not (tmp_path / "evil").exists()
    assert list(tmp_path.iterdir()) == []  # refused before anything was created


def test_no_temp_files_left(tmp_path: Path, trained) -> None:
    booster, X, y, params = trained
    reg = ModelRegistry(tmp_path)
    reg.save("urumqi", booster, _card(X, y, params))
    reg.save("urumqi", {"q0.5": booster}, _card(X, y, params))
    reg.set_current("urumqi", "v0002")
    names = [p.name for p in tmp_path.rglob("*")]
    assert not [n for n in names if n.startswith(".") or n.endswith(".tmp")]
    expected = ["urumqi", "CURRENT", "v0001", "v0002", "card.json", "card.json", "model.txt"]
    assert sorted(names) == sorted([*expected, "model-q0.5.txt"])


def test_failed_write_leaves_no_temp_file(tmp_path: Path, trained, monkeypatch) -> None:
    booster, X, y, params = trained
    reg = ModelRegistry(tmp_path)

    def boom(self, *a, **k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(ModelCard, "model_dump_json", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        reg.save("urumqi", booster, _card(X, y, params))
    names = [p.name for p in tmp_path.rglob("*")]
    assert not [n for n in names if n.startswith(".") or n.endswith(".tmp")]
    assert reg.list_versions("urumqi") == []  # no card → no version


def test_booster_feature_names_must_match_card(tmp_path: Path, trained) -> None:
    booster, X, y, params = trained
    reg = ModelRegistry(tmp_path)
    card = _card(X, y, params, feature_names=("a", "b", "c", "d"))
    with pytest.raises(ValueError, match="feature names differ"):
        reg.save("urumqi", booster, card)
    card = _card(X, y, params, feature_names=("a", "b", "c"))
    with pytest.raises(ValueError, match="4 features, the card names 3"):
        reg.save("urumqi", booster, card)


def test_hash_training_data() -> None:
    rng = np.random.default_rng(1)
    X = rng.normal(size=(20, 3))
    y = rng.normal(size=20)
    h = hash_training_data(X, y)
    assert len(h) == 64
    assert hash_training_data(X.astype(np.float32), y) == h
    assert hash_training_data(pd.DataFrame(X, columns=list("abc")), pd.Series(y)) == h
    assert hash_training_data(np.asfortranarray(X), y) == h
    X2 = X.copy()
    X2[3, 1] += 1e-3
    assert hash_training_data(X2, y) != h
    assert hash_training_data(X.reshape(30, 2), y) != h  # same bytes, other shape
    assert hash_training_data(X, y[::-1]) != h
    nan1 = X.copy()
    nan1[0, 0] = np.nan
    nan2 = X.copy()
    nan2[0, 0] = -np.nan
    assert hash_training_data(nan1, y) == hash_training_data(nan2, y)


def test_code_version_fallback() -> None:
    assert code_version("  v1.2-3-gdead  ") == "v1.2-3-gdead"
    assert code_version(None).startswith("wcs-forecast ")
    assert code_version("") == code_version(None)


def test_card_requires_caller_time_and_valid_hash(trained) -> None:
    _, X, y, params = trained
    card = _card(X, y, params)
    data = card.model_dump()
    del data["created"]
    with pytest.raises(ValueError, match="created"):
        ModelCard(**data)
    with pytest.raises(ValueError, match="training_data_sha256"):
        _card(X, y, params, training_data_sha256="not-a-hash")
    with pytest.raises(ValueError, match="duplicate feature names"):
        _card(X, y, params, feature_names=("a", "a"))
    assert _card(X, y, params, feature_catalogue_version=3).feature_catalogue_version == "3"


def test_models_package_never_pickles() -> None:
    root = Path(__file__).resolve().parents[1] / "models"
    for path in root.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            for name in names:
                top = name.split(".")[0]
                assert top not in {"pickle", "joblib", "cloudpickle", "dill"}, path
