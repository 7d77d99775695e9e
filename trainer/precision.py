"""Which precision the network's matrix products train in, and serving in float32.

On CPUs that multiply bfloat16 natively (Intel AMX or AVX512-BF16), the hidden blocks
(dense, batch normalisation, ReLU, dropout) can train with Keras's `mixed_bfloat16`
policy: weights and normalisation statistics stay float32, the products and the
activations between them are bfloat16 (half the memory traffic, no casts between the
layers). Everywhere else bfloat16 is emulated and slower than float32, so `auto` picks
float32 there. Whatever the network trained in, it is exported and evaluated in float32
(`serve_in_float32`): the served graph is the same float32 graph either way.
"""

from pathlib import Path

import keras

from covertype.defaults import COMPUTE_DTYPES

NATIVE_BFLOAT16_FLAGS = frozenset({"amx_bf16", "avx512_bf16"})
_CPU_INFO = Path("/proc/cpuinfo")


def cpu_multiplies_bfloat16(cpu_info: Path = _CPU_INFO) -> bool:
    """Whether the CPU flags (Linux's /proc/cpuinfo) include native bfloat16 products."""
    try:
        text = cpu_info.read_text()
    except OSError:
        return False
    for line in text.splitlines():
        if line.startswith("flags"):
            return bool(NATIVE_BFLOAT16_FLAGS & set(line.partition(":")[2].split()))
    return False


def resolve_compute_dtype(setting: str, cpu_info: Path = _CPU_INFO) -> str:
    """`float32` or `bfloat16` for a setting of `auto`, `float32` or `bfloat16`."""
    if setting not in COMPUTE_DTYPES:
        choices = ", ".join(COMPUTE_DTYPES)
        raise ValueError(f"compute_dtype must be one of {choices}, got {setting!r}")
    if setting == "auto":
        return "bfloat16" if cpu_multiplies_bfloat16(cpu_info) else "float32"
    return setting


def layer_policy(compute_dtype: str) -> str:
    """The Keras dtype policy of a hidden block's layers that compute in `compute_dtype`."""
    return "mixed_bfloat16" if compute_dtype == "bfloat16" else "float32"


def serve_in_float32(model: keras.Model) -> keras.Model:
    """`model` with every layer computing in float32 (its weights are float32 already)."""
    for layer in model.layers:
        if layer.dtype_policy.name != "float32":
            layer.dtype_policy = "float32"
    return model
