"""What every peer app does per request: validated rows in, the gateway's JSON answer out.

The SavedModel is loaded in-process the way a Ray Serve or BentoML user would load it
(`tf.saved_model.load`) and its `[batch, 54]` matrix signature is called once per
request. Validation and the answer's shape are the gateway's own code, so the peers
do the same work per request as our stack, minus the hop to the model server.
"""

from collections.abc import Sequence
from pathlib import Path

import tensorflow as tf

from covertype import defaults
from gateway.predictions import Prediction

MAX_INSTANCES = 1000


class SavedModelPredictor:
    """One SavedModel version, answering rows as `POST /v1/predict` answers them."""

    def __init__(self, version_dir: Path) -> None:
        loaded = tf.saved_model.load(str(version_dir))
        self._signature = loaded.signatures[defaults.MATRIX_SIGNATURE]
        self._version = int(version_dir.name)

    def answer(self, rows: Sequence[Sequence[float]]) -> dict[str, object]:
        """The JSON body the gateway would answer for `rows`."""
        matrix = tf.constant(rows, dtype=tf.float32)
        outputs = self._signature(**{defaults.MATRIX_INPUT: matrix})
        classes = outputs[defaults.OUTPUT_COVER_TYPE].numpy().tolist()
        probabilities = outputs[defaults.OUTPUT_PROBABILITIES].numpy().tolist()
        return {
            "model_name": defaults.MODEL_NAME,
            "model_version": self._version,
            "predictions": [
                Prediction(int(cover_type), tuple(row)).as_json()
                for cover_type, row in zip(classes, probabilities, strict=True)
            ],
        }
