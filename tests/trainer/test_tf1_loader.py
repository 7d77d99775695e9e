"""The export loads the way TensorFlow Serving loads it: TF1 loader, then a Session run."""

from typing import Any

import numpy as np


def test_both_signatures_run_in_a_tf1_session(tiny_candidate: Any, train_csv: Any) -> None:
    import pandas as pd
    import tensorflow as tf

    from covertype.schema import FEATURE_COLUMNS

    rows = pd.read_csv(train_csv, nrows=5)[list(FEATURE_COLUMNS)].to_numpy(np.float32)
    with tf.compat.v1.Session(graph=tf.Graph()) as session:
        meta_graph = tf.compat.v1.saved_model.loader.load(
            session, ["serve"], str(tiny_candidate.path)
        )
        matrix = meta_graph.signature_def["predict_matrix"]
        named = meta_graph.signature_def["serving_default"]
        from_matrix = session.run(
            matrix.outputs["cover_type"].name, {matrix.inputs["features"].name: rows}
        )
        from_named = session.run(
            named.outputs["cover_type"].name,
            {named.inputs[name].name: rows[:, i] for i, name in enumerate(FEATURE_COLUMNS)},
        )

    assert from_matrix.tolist() == from_named.tolist()
    assert set(from_matrix.tolist()) <= set(range(1, 8))
