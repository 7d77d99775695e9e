"""A tree-ensemble teacher: soft targets for the network (knowledge distillation).

ExtraTrees is the strongest model on this data (see benchmarks/model_quality.py). It
is fitted on the network's training rows with bootstrap samples, and each row's
target becomes its out-of-bag class probabilities: what trees that never saw the row
predict for it, so the targets carry what the trees learned from the row's
neighbours, not the row's own label repeated. The exported model stays the network
alone; the teacher exists only during training.
"""

import warnings

import numpy as np
from sklearn.ensemble import ExtraTreesClassifier

from covertype.schema import NUM_CLASSES
from trainer.features import engineered_table


def out_of_bag_probabilities(
    features: np.ndarray, labels: np.ndarray, trees: int, seed: int
) -> np.ndarray:
    """`[rows, 7]` probabilities of cover types 1..7 for each training row, out of bag.

    A row that no tree left out of its bootstrap sample keeps its one-hot label.
    """
    forest = ExtraTreesClassifier(
        n_estimators=trees, bootstrap=True, oob_score=True, n_jobs=-1, random_state=seed
    )
    with warnings.catch_warnings():  # rows without out-of-bag trees are handled below
        warnings.filterwarnings("ignore", "Some inputs do not have OOB scores", UserWarning)
        forest.fit(engineered_table(features), labels)
    probabilities = np.zeros((len(labels), NUM_CLASSES), dtype=np.float32)
    probabilities[:, forest.classes_ - 1] = forest.oob_decision_function_
    one_hot = np.eye(NUM_CLASSES, dtype=np.float32)[labels - 1]
    unseen = probabilities.sum(axis=1) < 0.5  # scikit-learn gives such rows all zeros
    probabilities[unseen] = one_hot[unseen]
    return probabilities
