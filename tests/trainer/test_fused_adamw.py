"""The fused AdamW takes the steps Keras's AdamW takes."""

import keras
import numpy as np
import pytest

from trainer.fused_adamw import FusedAdamW


def _steps(optimizer_class: type, amsgrad: bool = False) -> np.ndarray:
    rng = np.random.default_rng(0)
    weight = keras.Variable(rng.normal(size=(6, 5)).astype(np.float32))
    schedule = keras.optimizers.schedules.CosineDecay(
        0.01, decay_steps=10, warmup_target=0.05, warmup_steps=2
    )
    optimizer = optimizer_class(schedule, weight_decay=0.01, amsgrad=amsgrad)
    for _ in range(5):
        optimizer.apply([rng.normal(size=(6, 5)).astype(np.float32)], [weight])
    return weight.numpy()


@pytest.mark.parametrize("amsgrad", [False, True])
def test_same_weights_as_keras_adamw_after_several_steps(amsgrad: bool) -> None:
    keras_weights = _steps(keras.optimizers.AdamW, amsgrad)
    fused_weights = _steps(FusedAdamW, amsgrad)
    np.testing.assert_allclose(fused_weights, keras_weights, rtol=1e-5, atol=1e-6)
    assert not np.allclose(fused_weights, _steps(keras.optimizers.AdamW, not amsgrad))
