"""Stratified sampling and the train / test split."""

from dataclasses import dataclass

import numpy as np
from sklearn.model_selection import train_test_split

TEST_FRACTION = 0.2


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
    """Disjoint stratified parts: fit on train, report on test."""

    train: Rows
    test: Rows

    @property
    def rows(self) -> int:
        """Rows in both parts together."""
        return self.train.rows + self.test.rows

    def sizes(self) -> dict[str, int]:
        """Row counts per part, for the model card."""
        parts = {"train": self.train, "test": self.test}
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
    """Stratified split: 20% test, the rest for training."""
    train_x, test_x, train_y, test_y = train_test_split(
        rows.features,
        rows.labels,
        test_size=TEST_FRACTION,
        stratify=rows.labels,
        random_state=seed,
    )
    return Split(Rows(train_x, train_y), Rows(test_x, test_y))
