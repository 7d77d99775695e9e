"""The published SavedModel honours the contract the model server and clients rely on."""

import csv
import json
import re
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tensorflow as tf
from matplotlib.image import imread
from tensorflow.python.tools import saved_model_utils
from tensorflow_serving.apis import prediction_log_pb2

from covertype.defaults import (
    ASSETS_EXTRA,
    DEFAULT_SIGNATURE,
    MATRIX_INPUT,
    MATRIX_SIGNATURE,
    METRICS_FILE,
    MODEL_NAME,
    OUTPUT_COVER_TYPE,
    OUTPUT_PROBABILITIES,
    WARMUP_FILE,
)
from covertype.schema import CLASS_NAMES, FEATURE_COLUMNS, NUM_CLASSES
from tests.conftest import REPO_ROOT, PublishTiny
from trainer.api import load_validated_data
from trainer.card import CONFUSION_MATRIX_PLOT, TRAINING_CURVE_PLOT
from trainer.precision import resolve_compute_dtype
from trainer.splits import Rows, split, stratified_sample


@pytest.fixture(scope="module")
def version_dir(publish_tiny: PublishTiny, tmp_path_factory: pytest.TempPathFactory) -> Path:
    models_dir = tmp_path_factory.mktemp("models")
    [version] = publish_tiny(models_dir)
    return models_dir / MODEL_NAME / str(version)


@pytest.fixture(scope="module")
def loaded(version_dir: Path) -> Any:
    return tf.saved_model.load(str(version_dir))


@pytest.fixture(scope="module")
def raw_rows(train_csv: Path) -> np.ndarray:
    """200 rows of raw feature values as written in train.csv, [200, 54] float32."""
    with train_csv.open(newline="") as handle:
        reader = csv.DictReader(handle)
        rows = [row for _, row in zip(range(200), reader, strict=False)]
    return np.array([[float(r[c]) for c in FEATURE_COLUMNS] for r in rows], dtype=np.float32)


@pytest.fixture(scope="module")
def card(version_dir: Path) -> dict[str, Any]:
    return json.loads((version_dir / ASSETS_EXTRA / METRICS_FILE).read_text())


def named(rows: np.ndarray) -> dict[str, tf.Tensor]:
    return {name: tf.constant(rows[:, i]) for i, name in enumerate(FEATURE_COLUMNS)}


def test_signature_defs_as_tf_serving_reads_them(version_dir: Path) -> None:
    signatures = saved_model_utils.get_meta_graph_def(str(version_dir), "serve").signature_def
    default, matrix = signatures[DEFAULT_SIGNATURE], signatures[MATRIX_SIGNATURE]
    assert set(default.inputs) == set(FEATURE_COLUMNS)
    for tensor in default.inputs.values():
        assert tensor.dtype == tf.float32.as_datatype_enum
        assert [d.size for d in tensor.tensor_shape.dim] == [-1]
    assert list(matrix.inputs) == [MATRIX_INPUT]
    assert [d.size for d in matrix.inputs[MATRIX_INPUT].tensor_shape.dim] == [-1, 54]
    for signature in (default, matrix):
        assert signature.method_name == "tensorflow/serving/predict"
        outputs = signature.outputs
        assert set(outputs) == {OUTPUT_COVER_TYPE, OUTPUT_PROBABILITIES}
        assert outputs[OUTPUT_COVER_TYPE].dtype == tf.int64.as_datatype_enum
        assert [d.size for d in outputs[OUTPUT_COVER_TYPE].tensor_shape.dim] == [-1]
        assert outputs[OUTPUT_PROBABILITIES].dtype == tf.float32.as_datatype_enum
        assert [d.size for d in outputs[OUTPUT_PROBABILITIES].tensor_shape.dim] == [-1, 7]


def test_both_signatures_take_raw_values_and_agree(loaded: Any, raw_rows: np.ndarray) -> None:
    by_name = loaded.signatures[DEFAULT_SIGNATURE](**named(raw_rows))
    by_matrix = loaded.signatures[MATRIX_SIGNATURE](**{MATRIX_INPUT: tf.constant(raw_rows)})
    cover_type = by_name[OUTPUT_COVER_TYPE].numpy()
    probabilities = by_name[OUTPUT_PROBABILITIES].numpy()
    assert cover_type.dtype == np.int64 and cover_type.shape == (len(raw_rows),)
    assert set(cover_type) <= set(CLASS_NAMES)
    assert probabilities.shape == (len(raw_rows), NUM_CLASSES)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(cover_type, probabilities.argmax(axis=1) + 1)
    np.testing.assert_array_equal(cover_type, by_matrix[OUTPUT_COVER_TYPE].numpy())
    np.testing.assert_allclose(probabilities, by_matrix[OUTPUT_PROBABILITIES].numpy(), atol=1e-6)


def test_one_row_call(loaded: Any, raw_rows: np.ndarray) -> None:
    out = loaded.signatures[DEFAULT_SIGNATURE](**named(raw_rows[:1]))
    assert out[OUTPUT_COVER_TYPE].shape == (1,)
    assert out[OUTPUT_PROBABILITIES].shape == (1, NUM_CLASSES)


def test_the_model_uses_the_features(loaded: Any, raw_rows: np.ndarray) -> None:
    """Raw values go in unnormalised, and different rows get different classes."""
    out = loaded.signatures[MATRIX_SIGNATURE](**{MATRIX_INPUT: tf.constant(raw_rows)})
    assert len(np.unique(out[OUTPUT_COVER_TYPE].numpy())) >= 3


def test_warmup_requests_are_real_rows_the_model_answers(
    version_dir: Path, loaded: Any, train_csv: Path
) -> None:
    records = tf.data.TFRecordDataset(str(version_dir / ASSETS_EXTRA / WARMUP_FILE))
    logs = [prediction_log_pb2.PredictionLog.FromString(r.numpy()) for r in records]
    assert len(logs) >= 2
    data = load_validated_data(train_csv)
    known_rows = {row.tobytes() for row in data.features}
    for log in logs:
        request = log.predict_log.request
        assert request.model_spec.name == MODEL_NAME
        assert request.model_spec.signature_name == DEFAULT_SIGNATURE
        assert set(request.inputs) == set(FEATURE_COLUMNS)
        inputs = {name: tf.make_ndarray(proto) for name, proto in request.inputs.items()}
        rows = np.stack([inputs[name] for name in FEATURE_COLUMNS], axis=1)
        assert rows.dtype == np.float32
        assert all(row.tobytes() in known_rows for row in rows)
        out = loaded.signatures[DEFAULT_SIGNATURE](**{k: tf.constant(v) for k, v in inputs.items()})
        assert out[OUTPUT_COVER_TYPE].shape == (len(rows),)
        assert set(out[OUTPUT_COVER_TYPE].numpy()) <= set(CLASS_NAMES)
    assert any(
        len(tf.make_ndarray(log.predict_log.request.inputs["Elevation"])) == 1 for log in logs
    )


def test_model_card_holds_real_numbers(card: dict[str, Any], train_csv: Path) -> None:
    matrix = np.array(card["confusion_matrix"])
    assert matrix.shape == (NUM_CLASSES, NUM_CLASSES)
    assert matrix.sum() == card["split"]["test"] == 400
    assert card["accuracy"] == pytest.approx(np.trace(matrix) / matrix.sum())
    recall = [matrix[i, i] / matrix[i].sum() for i in range(NUM_CLASSES)]
    assert list(card["per_class_recall"].values()) == pytest.approx(recall)
    assert list(card["per_class_recall"]) == [str(c) for c in CLASS_NAMES]
    assert 0 < card["macro_f1"] <= 1
    assert card["class_names"] == {str(k): v for k, v in CLASS_NAMES.items()}
    assert card["data_fingerprint"] == load_validated_data(train_csv).fingerprint()
    assert (card["rows"], card["rows_available"], card["sample"]) == (2000, 12096, 2000)
    assert card["split"] == {"train": 1600, "test": 400}
    assert card["seed"] == 0
    assert card["cross_validation"] is None, "cross-validation runs only when asked (--cv)"
    assert card["parameters"]["epochs"] == 1 and card["epochs_run"] == 1
    assert card["parameters"]["trainable_weights"] > 1000
    assert card["training_seconds"] > 0
    assert card["training_cpu_seconds"] > 0
    steal = card["training_steal_fraction"]
    assert steal is None or 0 <= steal < 1, "the hypervisor's share of the fit's CPU time"
    assert card["parameters"]["compute_dtype"] == "auto"
    assert card["compute_dtype"] == resolve_compute_dtype("auto"), "as resolved on this CPU"
    assert card["tensorflow_version"] == tf.__version__
    in_git = subprocess.run(["git", "-C", str(REPO_ROOT), "rev-parse"], capture_output=True)
    if in_git.returncode != 0:
        assert card["git_commit"] is None
    else:  # a commit of this repository (HEAD may have moved on since the build)
        commit = card["git_commit"]
        assert re.fullmatch(r"[0-9a-f]{40}", commit)
        exists = ["git", "-C", str(REPO_ROOT), "cat-file", "-e", f"{commit}^{{commit}}"]
        assert subprocess.run(exists).returncode == 0
    ranges = card["feature_ranges"]
    assert list(ranges) == list(FEATURE_COLUMNS)
    assert all(r["min"] <= r["max"] for r in ranges.values())


def test_card_accuracy_is_what_the_exported_model_scores(
    card: dict[str, Any], loaded: Any, train_csv: Path
) -> None:
    """Recompute the test split from the data and seed, score the loaded SavedModel on it."""
    data = load_validated_data(train_csv)
    rows = stratified_sample(Rows(data.features, data.labels), card["sample"], card["seed"])
    test = split(rows, card["seed"]).test
    out = loaded.signatures[MATRIX_SIGNATURE](**{MATRIX_INPUT: tf.constant(test.features)})
    accuracy = float(np.mean(out[OUTPUT_COVER_TYPE].numpy() == test.labels))
    assert accuracy == pytest.approx(card["accuracy"])


def test_plots_are_images(version_dir: Path, card: dict[str, Any]) -> None:
    for name in (CONFUSION_MATRIX_PLOT, TRAINING_CURVE_PLOT):
        image = imread(version_dir / ASSETS_EXTRA / name)
        assert image.ndim == 3 and image.shape[0] > 200 and image.shape[1] > 200
    assert set(card["plots"].values()) == {CONFUSION_MATRIX_PLOT, TRAINING_CURVE_PLOT}
