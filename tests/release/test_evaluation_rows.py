"""The gate's evaluation rows: rebuilt test splits, and the rows two models both held out."""

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from release.candidates import (
    BOTH,
    CANDIDATE_ONLY,
    CandidateError,
    candidate_test_split,
    evaluation_rows,
    held_out_indices,
)


@pytest.fixture(scope="module")
def validated(train_csv: Path) -> Any:
    from trainer.api import load_validated_data

    return load_validated_data(train_csv)


def _card(validated: Any, sample: int | None, seed: int, **extra: Any) -> dict[str, Any]:
    return {"data_fingerprint": validated.fingerprint(), "sample": sample, "seed": seed, **extra}


def _sorted_rows(matrix: np.ndarray) -> np.ndarray:
    return matrix[np.lexsort(matrix.T[::-1])]


@pytest.mark.parametrize(("sample", "seed"), [(None, 0), (3000, 0), (500, 7)])
def test_held_out_indices_are_the_trainers_test_split(
    validated: Any, sample: int | None, seed: int
) -> None:
    from trainer.splits import Rows, split, stratified_sample

    rows = stratified_sample(Rows(validated.features, validated.labels), sample, seed)
    test = split(rows, seed).test
    indices = held_out_indices(validated.labels, sample, seed)
    assert len(indices) == test.rows
    assert np.array_equal(_sorted_rows(validated.features[indices]), _sorted_rows(test.features))


def test_same_sample_and_seed_share_the_whole_test_split(validated: Any) -> None:
    card = _card(validated, 3000, 0)
    rows = evaluation_rows(validated, card, card, min_rows=200)
    assert rows.held_out_by == BOTH
    assert len(rows.labels) == len(held_out_indices(validated.labels, 3000, 0))


def test_different_seeds_use_only_rows_both_held_out(validated: Any) -> None:
    candidate, live = _card(validated, None, 1), _card(validated, None, 0)
    rows = evaluation_rows(validated, candidate, live, min_rows=200)
    both = np.intersect1d(
        held_out_indices(validated.labels, None, 1), held_out_indices(validated.labels, None, 0)
    )
    assert rows.held_out_by == BOTH
    assert 200 <= len(rows.labels) == len(both) < len(held_out_indices(validated.labels, None, 1))
    assert np.array_equal(rows.features, validated.features[both])


@pytest.mark.parametrize(
    "live",
    [
        {"data_fingerprint": "sha256:other", "sample": None, "seed": 0},  # other data
        {"sample": 500, "seed": 3},  # too few rows held out by both
        None,  # first release
    ],
)
def test_otherwise_the_candidates_test_split(validated: Any, live: dict[str, Any] | None) -> None:
    if live is not None:
        live = {"data_fingerprint": validated.fingerprint(), **live}
    candidate = _card(validated, 3000, 0)
    rows = evaluation_rows(validated, candidate, live, min_rows=200)
    assert rows.held_out_by == CANDIDATE_ONLY
    assert len(rows.labels) == len(held_out_indices(validated.labels, 3000, 0))


def test_a_candidate_from_other_data_cannot_be_evaluated(validated: Any) -> None:
    with pytest.raises(CandidateError, match="fingerprint sha256:other"):
        candidate_test_split(validated, {"data_fingerprint": "sha256:other"})
