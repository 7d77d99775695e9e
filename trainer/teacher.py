"""A tree-ensemble teacher: soft targets for the network (knowledge distillation).

ExtraTrees is the strongest model on this data (see benchmarks/model_quality.py). It is
fitted on the network's training rows only and labels `synthetic_rows`: new rows between
a training row and one of its nearest neighbours, which the network learns to answer as
the trees do (model compression), besides the training rows and their labels. The
exported model is the network alone; the teacher exists only during training.
"""

import numpy as np
from sklearn.ensemble import ExtraTreesClassifier
from sklearn.neighbors import NearestNeighbors
from sklearn.preprocessing import StandardScaler

from covertype.schema import FEATURE_COLUMNS, NUM_CLASSES, NUMERIC_COLUMNS
from trainer.features import engineered_table

_ASPECT = FEATURE_COLUMNS.index("Aspect")
_NUMERIC = len(NUMERIC_COLUMNS)


class TreeTeacher:
    """ExtraTrees fitted on the training rows, answering for any raw rows."""

    def __init__(self, features: np.ndarray, labels: np.ndarray, trees: int, seed: int) -> None:
        self._forest = ExtraTreesClassifier(n_estimators=trees, n_jobs=-1, random_state=seed)
        self._forest.fit(engineered_table(features), labels)

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        """`[rows, 7]` probabilities of cover types 1..7 for `[rows, 54]` raw values."""
        probabilities = np.zeros((len(features), NUM_CLASSES), dtype=np.float32)
        probabilities[:, self._forest.classes_ - 1] = self._forest.predict_proba(
            engineered_table(features)
        )
        return probabilities


def synthetic_rows(features: np.ndarray, count: int, seed: int, neighbours: int = 5) -> np.ndarray:
    """`count` new raw rows, each between a training row and one of its nearest neighbours.

    Numeric values are interpolated (aspect along the shorter arc of the circle); the
    wilderness area and soil type are the nearer row's, so the one-hot groups stay valid.
    """
    rng = np.random.default_rng(seed)
    space = StandardScaler().fit_transform(engineered_table(features))
    _, nearest = NearestNeighbors(n_neighbors=neighbours + 1).fit(space).kneighbors(space)
    base = rng.integers(0, len(features), count)
    partner = nearest[base, rng.integers(1, neighbours + 1, count)]
    share = rng.uniform(0.0, 1.0, (count, 1)).astype(np.float32)
    start, end = features[base], features[partner]
    rows = start.copy()
    rows[:, :_NUMERIC] = start[:, :_NUMERIC] + share * (end[:, :_NUMERIC] - start[:, :_NUMERIC])
    turn = (end[:, _ASPECT] - start[:, _ASPECT] + 180.0) % 360.0 - 180.0
    rows[:, _ASPECT] = (start[:, _ASPECT] + share[:, 0] * turn) % 360.0
    nearer_end = share[:, 0] > 0.5
    rows[nearer_end, _NUMERIC:] = end[nearer_end, _NUMERIC:]
    return rows
