"""How each version's TensorFlow Session is made: TF Serving's SessionBundleConfig.

The server builds one `SessionBundleConfig` from its flags: the Session's
ConfigProto (`--tensorflow_session_config_file`, then the thread flags, the GPU
memory fraction and `--mixed_precision` on top, in TF Serving's order) and the
tags of the MetaGraphDef to load (`--saved_model_tags`).
"""

from dataclasses import dataclass, field

from tensorflow.core.protobuf import config_pb2, rewriter_config_pb2

SERVE_TAG = "serve"
BFLOAT16 = "bfloat16"

# What a thread count of 0 (TF: auto-configure, one thread per core) means here.
# Requests (or batches) already run in parallel on the gRPC, REST and batch threads, so
# each run's ops execute in the thread that asked for it (an inter-op count below zero,
# TF's "run in the caller's thread": no hand-off to a pool and back, about 190 us of a
# one-row run of the covertype model) and each op on one core (TensorFlow's pools
# spinning between the small ops of a small model cost more CPU than they save;
# measured with benchmarks/model_server.py).
AUTO_INTRA_OP_THREADS = 1
AUTO_INTER_OP_THREADS = -1


class SessionConfigError(ValueError):
    """The thread flags contradict each other."""


@dataclass(frozen=True)
class SessionBundleConfig:
    """The Session config and MetaGraphDef tags every version is loaded with."""

    session_config: config_pb2.ConfigProto = field(default_factory=config_pb2.ConfigProto)
    saved_model_tags: tuple[str, ...] = (SERVE_TAG,)


def build_session_config(
    base: config_pb2.ConfigProto | None = None,
    *,
    session_parallelism: int = 0,
    intra_op_parallelism: int = 0,
    inter_op_parallelism: int = 0,
    per_process_gpu_memory_fraction: float = 0.0,
    mixed_precision: str = "",
) -> config_pb2.ConfigProto:
    """TF Serving's session config from its flags (server.cc and the bundle factory).

    The thread counts always override the file's: intra/inter if either is set (above
    0), else --tensorflow_session_parallelism for both. A count is passed to TensorFlow
    as it is (a negative inter-op count runs the ops in the caller's thread), except 0,
    which means the AUTO_ counts here.
    Returns the config; a `mixed_precision` other than bfloat16 is ignored (TF
    Serving logs a warning), see `unsupported_mixed_precision`.
    """
    if intra_op_parallelism > 0 and inter_op_parallelism > 0 and session_parallelism > 0:
        raise SessionConfigError(
            "Either configure server_options.tensorflow_session_parallelism or "
            "(server_options.tensorflow_intra_op_parallelism, "
            "server_options.tensorflow_inter_op_parallelism) separately. You cannot configure "
            "all."
        )
    config = config_pb2.ConfigProto()
    if base is not None:
        config.CopyFrom(base)
    if intra_op_parallelism > 0 or inter_op_parallelism > 0:
        intra, inter = intra_op_parallelism, inter_op_parallelism
    else:
        intra = inter = session_parallelism
    config.intra_op_parallelism_threads = intra or AUTO_INTRA_OP_THREADS
    config.inter_op_parallelism_threads = inter or AUTO_INTER_OP_THREADS
    config.gpu_options.per_process_gpu_memory_fraction = per_process_gpu_memory_fraction
    if mixed_precision == BFLOAT16:
        config.graph_options.rewrite_options.auto_mixed_precision_onednn_bfloat16 = (
            rewriter_config_pb2.RewriterConfig.ON
        )
    return config


def unsupported_mixed_precision(mixed_precision: str) -> bool:
    """True for a --mixed_precision value TF Serving warns about and ignores."""
    return bool(mixed_precision) and mixed_precision != BFLOAT16


def parse_saved_model_tags(text: str) -> tuple[str, ...]:
    """--saved_model_tags: comma-separated; empty means `serve` (TF Serving's default)."""
    tags = tuple(tag for tag in text.split(",") if tag)
    return tags or (SERVE_TAG,)
