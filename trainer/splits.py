"""Stratified sampling and the train / validation / test split."""

from dataclasses import dataclass

import numpy as np
from sklearn.model_selection import train_test_split

TEST_FRACTION = 0.2
VALIDATION_FRACTION = 0.1  # of all rows, taken from what the test split leaves


@dataclass(frozen=True)
class Rows:
    """Features ([rows, 54] float32, canonical order) with their labels (1..7)."""

    features: np.ndarray
    labels: np.ndarray

    @property
    def rows(self) -> int:
        """Number of rows."""
        return len(self.labels)


@dataclass(frozen=True)
class Split:
    """Disjoint stratified parts: fit on train, stop early on validation, report on test."""

    train: Rows
    validation: Rows
    test: Rows

    @property
    def rows(self) -> int:
        """Rows in all three parts together."""
        return self.train.rows + self.validation.rows + self.test.rows

    def sizes(self) -> dict[str, int]:
        """Row counts per part, for the model card."""
        parts = {"train": self.train, "validation": self.validation, "test": self.test}
        return {name: part.rows for name, part in parts.items()}


def stratified_sample(rows: Rows, size: int | None, seed: int) -> Rows:
    """`size` rows with the class proportions of `rows`; all of them if size is None or larger."""
    if size is None or size >= rows.rows:
        return rows
    features, _, labels, _ = train_test_split(
        rows.features, rows.labels, train_size=size, stratify=rows.labels, random_state=seed
    )
    return Rows(features, labels)


def split(rows: Rows, seed: int) -> Split:
    """Stratified split: 20% test, 10% validation, the rest for training."""
    rest_x, test_x, rest_y, test_y = train_test_split(
        rows.features,
        rows.labels,
        test_size=TEST_FRACTION,
        stratify=rows.labels,
        random_state=seed,
    )
    train_x, val_x, train_y, val_y = train_test_split(
        rest_x,
        rest_y,
        test_size=VALIDATION_FRACTION / (1 - TEST_FRACTION),
        stratify=rest_y,
        random_state=seed,
    )
    return Split(Rows(train_x, train_y), Rows(val_x, val_y), Rows(test_x, test_y))
