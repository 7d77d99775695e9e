"""Where a release's candidate comes from, and the rows the gate evaluates it on.

The gate compares candidate and live version on rows neither was trained on. The
trainer's split is deterministic (stratified sample, then stratified split, both
seeded), so the test split of a model is rebuilt from the data, given the sample
size and seed in its model card. When the live version was trained on the same data
(same fingerprint), the gate uses the rows both held out; when it was not, or when
fewer than `min_rows` rows are held out by both (different seeds or samples), it
uses the candidate's whole test split and says so: the live version may then have
trained on some of those rows, which flatters it, so the gate errs on the strict side.
"""

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from covertype.defaults import ASSETS_EXTRA, METRICS_FILE

SUMMARY_KEYS = (
    "accuracy",
    "macro_f1",
    "data_fingerprint",
    "rows",
    "sample",
    "seed",
    "epochs_run",
    "evaluated_on",
)
BOTH = "held out by the candidate and the live version"
CANDIDATE_ONLY = "held out by the candidate only (the live version may have trained on some)"


class InvalidData(Exception):
    """The data failed validation (exit code 2) or was not found."""


class CandidateError(Exception):
    """A candidate cannot be released or evaluated as asked."""


@dataclass(frozen=True)
class BuiltCandidate:
    """A complete version folder outside the base path, with its model card."""

    path: Path
    metrics: dict[str, Any]
    origin: str

    @property
    def summary(self) -> dict[str, Any]:
        """The card's key facts, for the record."""
        return {key: self.metrics.get(key) for key in SUMMARY_KEYS}


@dataclass(frozen=True)
class EvaluationRows:
    """The gate's rows, and whose test split they come from."""

    features: np.ndarray
    labels: np.ndarray
    held_out_by: str


def validate_data(data: Path | None) -> Any:
    """Find, read and validate the data (trainer.validation.ValidatedData)."""
    from trainer.api import load_validated_data
    from trainer.data import DataNotFoundError
    from trainer.problems import DataValidationError

    try:
        return load_validated_data(data)
    except (DataValidationError, DataNotFoundError) as error:
        raise InvalidData(str(error)) from error


def held_out_indices(labels: np.ndarray, sample: int | None, seed: int) -> np.ndarray:
    """Row numbers of the test split `build_candidate` holds out for this sample and seed.

    The trainer's sampling and splitting depend only on the labels, the sizes and
    the seed, so running them on the row numbers yields the rows they pick.
    """
    from trainer.splits import Rows, split, stratified_sample

    numbers = np.arange(len(labels)).reshape(-1, 1)
    rows = stratified_sample(Rows(numbers, labels), sample, seed)
    return np.sort(split(rows, seed).test.features.reshape(-1))


def _test_split(validated: Any, card: dict[str, Any]) -> np.ndarray:
    return held_out_indices(validated.labels, card.get("sample"), int(card.get("seed") or 0))


def candidate_test_split(validated: Any, card: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """The candidate's whole test split, to check against its card's accuracy."""
    if card.get("data_fingerprint") != validated.fingerprint():
        raise CandidateError(
            f"the candidate was trained on data with fingerprint {card.get('data_fingerprint')}, "
            f"not the given data ({validated.fingerprint()}): its test split cannot be rebuilt"
        )
    rows = _test_split(validated, card)
    return validated.features[rows], validated.labels[rows]


def evaluation_rows(
    validated: Any,
    candidate_card: dict[str, Any],
    live_card: dict[str, Any] | None,
    min_rows: int,
) -> EvaluationRows:
    """The rows both models held out when there are `min_rows` of them, else the candidate's."""
    rows = _test_split(validated, candidate_card)
    held_out_by = CANDIDATE_ONLY
    if live_card is not None and live_card.get("data_fingerprint") == validated.fingerprint():
        both = np.intersect1d(rows, _test_split(validated, live_card))
        if len(both) >= min_rows:
            rows, held_out_by = both, BOTH
    return EvaluationRows(validated.features[rows], validated.labels[rows], held_out_by)


def train(options: Any, workdir: Path, validated: Any, compute_dtype: str) -> BuiltCandidate:
    """Train a candidate with `trainer.api.build_candidate` into `workdir`, its dense layers'
    products in `compute_dtype` (`trainer.precision`)."""
    from trainer.api import DEFAULT_HYPERPARAMETERS, build_candidate

    hyper = replace(DEFAULT_HYPERPARAMETERS, compute_dtype=compute_dtype)
    candidate = build_candidate(options, workdir, hyper)
    return BuiltCandidate(
        candidate.path, candidate.metrics, f"trained on {validated.location.describe()}"
    )


def given(path: Path) -> BuiltCandidate:
    """A candidate folder built elsewhere (its name must not be a version number)."""
    if not path.is_dir():
        raise CandidateError(f"no candidate folder at {path}")
    if path.name.isdigit():
        raise CandidateError(f"{path}: a candidate folder name must not be all digits")
    return BuiltCandidate(path, read_card(path), f"given: {path}")


def read_card(folder: Path) -> dict[str, Any]:
    """The `metrics.json` model card of a version folder ({} when absent or unreadable)."""
    try:
        return json.loads((folder / ASSETS_EXTRA / METRICS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def describe(summary: dict[str, Any]) -> str:
    """`accuracy 0.8712, macro F1 0.8690 on ...; data sha256:abcd...`."""
    parts = []
    if isinstance(summary.get("accuracy"), float):
        parts.append(f"accuracy {summary['accuracy']:.4f}")
    if isinstance(summary.get("macro_f1"), float):
        parts.append(f"macro F1 {summary['macro_f1']:.4f}")
    if summary.get("evaluated_on"):
        parts.append(f"on the {summary['evaluated_on']}")
    if summary.get("data_fingerprint"):
        parts.append(f"data {str(summary['data_fingerprint'])[:19]}")
    return ", ".join(parts) or "no model card"
