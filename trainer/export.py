"""Exporting the model as a SavedModel with the two serving signatures.

`serving_default` takes the 54 raw features as named float32 `[batch]` inputs;
`predict_matrix` takes one `[batch, 54]` float32 matrix in canonical column order. Both
return `cover_type` (int64, 1..7) and `probabilities` (float32 `[batch, 7]`). Each is a
`tf.function` with a fixed input signature, so a call runs the graph and nothing else.
"""

from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from covertype.defaults import (
    DEFAULT_SIGNATURE,
    MATRIX_INPUT,
    MATRIX_SIGNATURE,
    OUTPUT_COVER_TYPE,
    OUTPUT_PROBABILITIES,
)
from covertype.schema import FEATURE_COLUMNS
from trainer.folding import fold_batch_norm
from trainer.precision import serve_in_float32

_NAMED_INPUTS = {name: tf.TensorSpec([None], tf.float32, name=name) for name in FEATURE_COLUMNS}
_MATRIX_INPUT = tf.TensorSpec([None, len(FEATURE_COLUMNS)], tf.float32, name=MATRIX_INPUT)


class ServingModule(tf.Module):
    """The exported object: the Keras model behind the two signature functions.

    The model is served in float32 whatever its layers trained in (`trainer.precision`;
    this sets their policies), with its batch normalisation folded into the dense layers
    (`trainer.folding`): same probabilities, fewer operations per call.
    """

    def __init__(self, model: keras.Model) -> None:
        super().__init__(name="covertype")
        self.model = fold_batch_norm(serve_in_float32(model))

    @tf.function(input_signature=[_MATRIX_INPUT])
    def predict_matrix(self, features: tf.Tensor) -> dict[str, tf.Tensor]:
        """Outputs for a `[batch, 54]` matrix in canonical column order."""
        return self._outputs(features)

    @tf.function(input_signature=[_NAMED_INPUTS])
    def serve(self, inputs: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        """Outputs for the 54 features given as named `[batch]` tensors."""
        return self._outputs(tf.stack([inputs[name] for name in FEATURE_COLUMNS], axis=1))

    def _outputs(self, features: tf.Tensor) -> dict[str, tf.Tensor]:
        probabilities = self.model(features, training=False)
        cover_type = tf.argmax(probabilities, axis=1, output_type=tf.int64) + 1
        return {OUTPUT_COVER_TYPE: cover_type, OUTPUT_PROBABILITIES: probabilities}

    def predict(self, features: np.ndarray, batch_size: int = 8192) -> np.ndarray:
        """Cover types (1..7) for `[rows, 54]` features, through the exported function."""
        parts = [
            self.predict_matrix(tf.constant(features[start : start + batch_size]))
            for start in range(0, len(features), batch_size)
        ]
        return np.concatenate([part[OUTPUT_COVER_TYPE].numpy() for part in parts])


def export_saved_model(module: ServingModule, path: Path) -> None:
    """Write `module` as a SavedModel at `path` (which must not exist yet).

    Written through Keras' `ExportArchive`, which tracks the Keras 3 variables so that
    TensorFlow Serving's TF1 loader can restore them; a plain `tf.saved_model.save` of a
    `tf.Module` holding a Keras 3 model loads in TF2 but fails in TF Serving with
    "Could not find variable".
    """
    archive = keras.export.ExportArchive()
    archive.track(module.model)
    archive.add_endpoint(DEFAULT_SIGNATURE, module.serve, input_signature=[_NAMED_INPUTS])
    archive.add_endpoint(MATRIX_SIGNATURE, module.predict_matrix, input_signature=[_MATRIX_INPUT])
    archive.write_out(str(path), verbose=False)
