"""Where a release's candidate comes from, and the rows the gate evaluates it on.

The gate's evaluation rows are the candidate's own held-out test split: the rows it
never saw in training. They are rebuilt from the validated data with the
candidate's sample size and seed (the trainer's split is deterministic), and the
gate checks that the candidate scores exactly its model card's accuracy on them.
The live version may have trained on some of those rows, which can only flatter
it: the gate errs on the strict side.
"""

import json
from dataclasses import dataclass
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
    "best_epoch",
    "evaluated_on",
)

Evaluation = tuple[np.ndarray, np.ndarray]


class InvalidData(Exception):
    """The data failed validation (exit code 2) or was not found."""


class CandidateError(Exception):
    """A given candidate folder cannot be released as asked."""


@dataclass(frozen=True)
class BuiltCandidate:
    """A complete version folder outside the base path, its card and its evaluation rows."""

    path: Path
    metrics: dict[str, Any]
    evaluation: Evaluation | None
    origin: str

    @property
    def summary(self) -> dict[str, Any]:
        """The card's key facts, for the record."""
        return {key: self.metrics.get(key) for key in SUMMARY_KEYS}


def validate_data(data: Path | None) -> Any:
    """Find, read and validate the data (trainer.validation.ValidatedData)."""
    from trainer.api import load_validated_data
    from trainer.data import DataNotFoundError
    from trainer.problems import DataValidationError

    try:
        return load_validated_data(data)
    except (DataValidationError, DataNotFoundError) as error:
        raise InvalidData(str(error)) from error


def held_out_rows(validated: Any, sample: int | None, seed: int) -> Evaluation:
    """The test split `build_candidate` holds out for this sample size and seed."""
    from trainer.splits import Rows, split, stratified_sample

    rows = stratified_sample(Rows(validated.features, validated.labels), sample, seed)
    test = split(rows, seed).test
    return test.features, test.labels


def train(options: Any, workdir: Path, validated: Any) -> BuiltCandidate:
    """Train a candidate with `trainer.api.build_candidate` into `workdir`."""
    from trainer.api import build_candidate

    candidate = build_candidate(options, workdir)
    return BuiltCandidate(
        path=candidate.path,
        metrics=candidate.metrics,
        evaluation=held_out_rows(validated, options.sample, options.seed),
        origin=f"trained on {validated.location.describe()}",
    )


def given(path: Path, validated: Any | None) -> BuiltCandidate:
    """A candidate folder built elsewhere; evaluation rows only when `validated` is given.

    The data must be what the candidate was trained on (same fingerprint), else its
    test split cannot be rebuilt.
    """
    if not path.is_dir():
        raise CandidateError(f"no candidate folder at {path}")
    if path.name.isdigit():
        raise CandidateError(f"{path}: a candidate folder name must not be all digits")
    metrics = read_card(path)
    evaluation = None
    if validated is not None:
        expected = metrics.get("data_fingerprint")
        if expected != validated.fingerprint():
            raise CandidateError(
                f"{path} was trained on data with fingerprint {expected}, not the given data "
                f"({validated.fingerprint()}): its test split cannot be rebuilt"
            )
        evaluation = held_out_rows(validated, metrics.get("sample"), int(metrics.get("seed", 0)))
    return BuiltCandidate(path, metrics, evaluation, f"given: {path}")


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
