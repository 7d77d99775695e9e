"""Training precision: bfloat16 products only where the CPU has them, float32 served always."""

import dataclasses
from pathlib import Path

import keras
import numpy as np
import pytest

from trainer.api import DEFAULT_HYPERPARAMETERS, load_validated_data
from trainer.precision import resolve_compute_dtype

_CPU_WITH_AMX = "processor\t: 0\nflags\t\t: fpu sse2 avx512f amx_bf16 amx_tile\n"
_CPU_WITHOUT = "processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f\n"
_BLOCK = {"dense", "batch_norm", "relu", "dropout"}  # a hidden block's layers, named <kind>_<i>


@pytest.mark.parametrize(
    ("cpu_info", "expected"),
    [(_CPU_WITH_AMX, "bfloat16"), (_CPU_WITHOUT, "float32"), (None, "float32")],
)
def test_auto_picks_bfloat16_only_on_a_cpu_that_multiplies_it(
    tmp_path: Path, cpu_info: str | None, expected: str
) -> None:
    path = tmp_path / "cpuinfo"
    if cpu_info is not None:
        path.write_text(cpu_info)
    assert resolve_compute_dtype("auto", path) == expected


@pytest.mark.parametrize("setting", ["float32", "bfloat16"])
def test_an_explicit_setting_is_kept_whatever_the_cpu(tmp_path: Path, setting: str) -> None:
    path = tmp_path / "cpuinfo"
    path.write_text(_CPU_WITHOUT if setting == "bfloat16" else _CPU_WITH_AMX)
    assert resolve_compute_dtype(setting, path) == setting


def test_an_unknown_setting_names_the_field_and_the_choices() -> None:
    with pytest.raises(ValueError, match="compute_dtype must be one of auto, float32, bfloat16"):
        resolve_compute_dtype("float16")


def test_a_network_trained_in_bfloat16_is_served_in_float32(train_csv: Path) -> None:
    import tensorflow as tf

    from trainer.export import ServingModule
    from trainer.splits import Rows
    from trainer.training import train

    data = load_validated_data(train_csv)
    rows = Rows(data.features[:512], data.labels[:512])
    hyper = dataclasses.replace(
        DEFAULT_HYPERPARAMETERS, hidden_units=(32, 16), synthetic_rows=0.0, compute_dtype="bfloat16"
    )
    run = train(rows, 1, 0, hyper, progress=None)
    assert run.compute_dtype == "bfloat16"
    hidden = [layer for layer in run.model.layers if layer.name.rpartition("_")[0] in _BLOCK]
    assert len(hidden) == 4 * len(hyper.hidden_units)
    assert {layer.dtype_policy.name for layer in hidden} == {"mixed_bfloat16"}

    module = ServingModule(run.model)
    assert {layer.dtype_policy.name for layer in run.model.layers} == {"float32"}
    assert not any(
        isinstance(layer, keras.layers.BatchNormalization) for layer in module.model.layers
    ), "folded as a float32-trained network's is"
    graph = module.predict_matrix.get_concrete_function().graph
    dtypes = {tensor.dtype for operation in graph.get_operations() for tensor in operation.outputs}
    assert tf.bfloat16 not in dtypes, "the served graph computes in float32 only"
    features = rows.features[:64]
    served = module.predict_matrix(tf.constant(features))["probabilities"].numpy()
    assert served.dtype == np.float32
    np.testing.assert_allclose(served, np.asarray(run.model(features)), rtol=1e-5, atol=1e-6)
