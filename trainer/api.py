"""The trainer's library API: what `covertype train`, the release pipeline and tests call.

`build_candidate` validates, trains, evaluates and exports a complete version folder
outside any models directory; `publish_version` makes it the next numbered version
atomically; `train_and_publish` does both.
"""

import math
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import keras
import tensorflow as tf

from covertype.defaults import ASSETS_EXTRA, MODEL_NAME, WARMUP_FILE
from covertype.schema import CLASS_NAMES
from registry.uri import is_s3_uri
from trainer.card import (
    CONFUSION_MATRIX_PLOT,
    TRAINING_CURVE_PLOT,
    feature_ranges,
    git_commit,
    write_card,
)
from trainer.cross_validation import (
    FoldScore,
    cross_validate,
    network_fit_predict,
    stratified_folds,
)
from trainer.data import load_table, locate_data
from trainer.evaluation import score
from trainer.export import ServingModule, export_saved_model
from trainer.model import Hyperparameters
from trainer.options import DEFAULT_EPOCHS, TrainOptions
from trainer.problems import DataValidationError, whole_file
from trainer.publish import publish_version
from trainer.splits import TEST_FRACTION, Rows, Split, split, stratified_sample
from trainer.training import TrainingRun, train
from trainer.validation import ValidatedData, validate
from trainer.warmup import warmup_batches, write_warmup_file

__all__ = [
    "DEFAULT_EPOCHS",
    "DEFAULT_HYPERPARAMETERS",
    "Candidate",
    "Published",
    "TrainOptions",
    "build_candidate",
    "load_validated_data",
    "publish_version",
    "train_and_publish",
]

DEFAULT_HYPERPARAMETERS = Hyperparameters()
_REPOSITORY = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Candidate:
    """A complete SavedModel version folder, not yet published, and its model card."""

    path: Path
    metrics: dict[str, Any]


@dataclass(frozen=True)
class Published:
    """A published version: its number, its registry, its folder (in a folder registry)
    and its model card."""

    version: int
    registry: str
    path: Path | None
    metrics: dict[str, Any]


def load_validated_data(data: Path | None) -> ValidatedData:
    """Find, read and validate the data (raises DataNotFoundError or DataValidationError)."""
    return validate(load_table(locate_data(data)))


def build_candidate(
    options: TrainOptions,
    workdir: Path,
    hyper: Hyperparameters = DEFAULT_HYPERPARAMETERS,
    model_name: str = MODEL_NAME,
) -> Candidate:
    """Validate, train, evaluate and export a version folder inside `workdir`.

    The folder holds the SavedModel, `assets.extra/tf_serving_warmup_requests` and the
    model card. Nothing under any models directory is touched.
    """
    if options.epochs < 1:
        raise ValueError(f"epochs must be at least 1, got {options.epochs}")
    started = time.perf_counter()
    commit = git_commit(_REPOSITORY)  # before anything slow, to match the code that runs
    out = None if options.quiet else sys.stdout
    data, rows, parts = _prepare(options, out)
    cross_validation = None
    if options.cv_folds is not None:
        cross_validation = _cross_validate(rows, options.cv_folds, options, hyper, out)
    sizes = ", ".join(f"{name} {count:,}" for name, count in parts.sizes().items())
    _say(out, f"Training ({options.epochs} epochs, seed {options.seed}): {sizes}")
    run = train(parts.train, options.epochs, options.seed, hyper, progress=out)
    _say(
        out,
        f"  {run.epochs_run} epochs, {run.seconds:.1f}s ({run.compute_dtype} products; "
        f"{run.usage.describe()})",
    )

    module = ServingModule(run.model)
    metrics = score(parts.test.labels, module.predict(parts.test.features))
    workdir.mkdir(parents=True, exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix="candidate-", dir=workdir))
    export_saved_model(module, path)
    extra = path / ASSETS_EXTRA
    extra.mkdir(exist_ok=True)
    batches = warmup_batches(parts.test.features, parts.test.labels)
    write_warmup_file(extra / WARMUP_FILE, batches, model_name)
    card = {
        "model_name": model_name,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        **metrics,
        "evaluated_on": f"stratified {TEST_FRACTION:.0%} test split, {parts.test.rows} rows",
        "cross_validation": cross_validation,
        **_provenance(data, parts, options),
        "git_commit": commit,
        **_training_facts(run, hyper, options),
        "build_seconds": round(time.perf_counter() - started, 2),
        "plots": {"confusion_matrix": CONFUSION_MATRIX_PLOT, "training_curve": TRAINING_CURVE_PLOT},
    }
    write_card(extra, card, run.history)
    _say(out, f"Candidate exported to {path}")
    return Candidate(path, card)


def train_and_publish(
    options: TrainOptions,
    registry: Path | str,
    model_name: str = MODEL_NAME,
    hyper: Hyperparameters = DEFAULT_HYPERPARAMETERS,
) -> Published:
    """Build a candidate in a temporary folder and publish it as the next version of
    `registry` (a models folder or `s3://bucket/prefix`)."""
    with tempfile.TemporaryDirectory(prefix="covertype-candidate-") as workdir:
        candidate = build_candidate(options, Path(workdir), hyper, model_name)
        version = publish_version(candidate.path, registry, model_name)
    folder = None if is_s3_uri(str(registry)) else Path(registry) / model_name / str(version)
    return Published(version, str(registry), folder, candidate.metrics)


def _prepare(options: TrainOptions, out: TextIO | None) -> tuple[ValidatedData, Rows, Split]:
    """Find, read and validate the data, then sample (if asked) and split it."""
    location = locate_data(options.data)
    if location.path is None:
        _say(out, "Fetching the UCI set through scikit-learn (downloads once, then cached) ...")
    _say(out, f"Reading and validating {location.describe()} ...")
    data = validate(load_table(location))
    _say(out, f"  {data.rows:,} valid rows ({data.layout} layout)")
    try:
        rows = stratified_sample(Rows(data.features, data.labels), options.sample, options.seed)
        parts = split(rows, options.seed)
    except ValueError as error:
        problem = whole_file(f"too few rows for a stratified train/test split: {error}")
        raise DataValidationError(data.location.describe(), [problem]) from error
    if parts.rows < data.rows:
        _say(out, f"  using a stratified sample of {parts.rows:,} rows (--sample)")
    return data, rows, parts


def _cross_validate(
    rows: Rows, folds: int, options: TrainOptions, hyper: Hyperparameters, out: TextIO | None
) -> dict[str, Any]:
    """The network's stratified k-fold figures on `rows`, for the model card."""
    _say(out, f"Cross-validating the network on {folds} stratified folds of {rows.rows:,} rows")
    started = time.perf_counter()

    def report(number: int, fold: FoldScore) -> None:
        _say(
            out,
            f"  fold {number}/{folds}: accuracy {fold.accuracy:.4f}  macro F1 "
            f"{fold.macro_f1:.4f}  {fold.seconds:.1f}s",
        )

    result = cross_validate(
        rows,
        network_fit_predict(options.epochs, options.seed, hyper),
        stratified_folds(rows.labels, folds, options.seed),
        on_fold=report,
    )
    _say(
        out,
        f"  cross-validated accuracy {result.mean('accuracy'):.4f} +- {result.std('accuracy'):.4f}"
        f", macro F1 {result.mean('macro_f1'):.4f} +- {result.std('macro_f1'):.4f}",
    )
    return {
        "protocol": (
            f"stratified {folds}-fold cross-validation over the {rows.rows} rows used (seed "
            f"{options.seed}): this network, same settings and epochs, retrained per fold on the "
            "other folds and scored on the held-out fold; the exported model is the one "
            "trained on the split above"
        ),
        "folds": folds,
        **result.as_dict(),
        "seconds": round(time.perf_counter() - started, 2),
    }


def _provenance(data: ValidatedData, parts: Split, options: TrainOptions) -> dict[str, Any]:
    """Where the model came from: data, rows, libraries."""
    return {
        "class_names": {str(number): name for number, name in CLASS_NAMES.items()},
        "data_source": data.location.describe(),
        "data_uri": data.location.uri or (str(data.location.path) if data.location.path else None),
        "data_layout": str(data.layout),
        "data_fingerprint": data.fingerprint(),
        "rows": parts.rows,
        "rows_available": data.rows,
        "sample": options.sample,
        "split": parts.sizes(),
        "feature_ranges": feature_ranges(parts.train.features),
        "tensorflow_version": tf.__version__,
        "keras_version": keras.__version__,
    }


def _training_facts(
    run: TrainingRun, hyper: Hyperparameters, options: TrainOptions
) -> dict[str, Any]:
    """How the model was trained: parameters, seed, epochs, time."""
    weights = sum(math.prod(weight.shape) for weight in run.model.trainable_weights)
    return {
        "parameters": {**hyper.as_dict(), "epochs": options.epochs, "trainable_weights": weights},
        "seed": options.seed,
        "compute_dtype": run.compute_dtype,
        "epochs_run": run.epochs_run,
        "training_loss": run.history["loss"][-1],
        "training_accuracy": run.history["accuracy"][-1],
        "training_seconds": round(run.seconds, 2),
        # what the host gave the fit: a slow host shows as steal, slow code as CPU time
        "training_cpu_seconds": round(run.usage.cpu_seconds, 2),
        "training_steal_fraction": (
            None if run.usage.steal_fraction is None else round(run.usage.steal_fraction, 4)
        ),
        # per-epoch curves, so that a console can draw them (training_curve.png is the same)
        "training_history": {
            name: [round(float(value), 6) for value in values]
            for name, values in run.history.items()
        },
    }


def _say(out: TextIO | None, message: str) -> None:
    if out is not None:
        print(message, file=out, flush=True)
