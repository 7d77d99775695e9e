"""BatchingParameters (from `--batching_parameters_file`) turned into checked options.

Unset fields take TF Serving's defaults. `pad_variable_length_inputs` is refused:
the local server batches only tensors whose per-row shapes match.
"""

import itertools
import os
from dataclasses import dataclass

from protos.tfserving_config import batching_pb2
from tfserving.batching.batching_session import BatchingSessionOptions
from tfserving.batching.shared_batch_scheduler import QueueOptions

DEFAULT_THREAD_POOL_NAME = "batch_threads"
MODEL_SERVER_THREAD_POOL_NAME = "model_server_batch_threads"


@dataclass(frozen=True)
class BatchingConfig:
    """Options for every batching session, and the shared scheduler's threads."""

    session: BatchingSessionOptions
    num_batch_threads: int
    thread_pool_name: str


def batching_config(parameters: batching_pb2.BatchingParameters | None) -> BatchingConfig:
    """Checked batching settings; ValueError names the offending field."""
    if parameters is None:
        return BatchingConfig(
            BatchingSessionOptions(QueueOptions()),
            os.cpu_count() or 1,
            MODEL_SERVER_THREAD_POOL_NAME,
        )
    defaults = QueueOptions()
    queue = QueueOptions(
        max_batch_size=_value(parameters, "max_batch_size", defaults.max_batch_size),
        batch_timeout_micros=_value(
            parameters, "batch_timeout_micros", defaults.batch_timeout_micros
        ),
        max_enqueued_batches=_value(
            parameters, "max_enqueued_batches", defaults.max_enqueued_batches
        ),
    )
    threads = _value(parameters, "num_batch_threads", os.cpu_count() or 1)
    name = (
        parameters.thread_pool_name.value
        if parameters.HasField("thread_pool_name")
        else DEFAULT_THREAD_POOL_NAME
    )
    allowed = tuple(parameters.allowed_batch_sizes)
    if queue.max_batch_size < 1:
        raise ValueError("max_batch_size must be at least 1")
    if queue.batch_timeout_micros < 0:
        raise ValueError("batch_timeout_micros must not be negative")
    if queue.max_enqueued_batches < 1:
        raise ValueError("max_enqueued_batches must be at least 1")
    if threads < 1:
        raise ValueError("num_batch_threads must be at least 1")
    if allowed:
        if any(b <= a for a, b in itertools.pairwise(allowed)) or allowed[0] < 1:
            raise ValueError("allowed_batch_sizes entries must be positive and increasing")
        if allowed[-1] != queue.max_batch_size:
            raise ValueError(
                "The largest entry in allowed_batch_sizes must be equal to max_batch_size"
            )
    if parameters.pad_variable_length_inputs:
        raise ValueError(
            "pad_variable_length_inputs is not supported by the local server (use the "
            "tfserving backend, or batch tensors of equal per-row shape)"
        )
    return BatchingConfig(BatchingSessionOptions(queue, allowed), threads, name)


def _value(parameters: batching_pb2.BatchingParameters, field: str, default: int) -> int:
    return getattr(parameters, field).value if parameters.HasField(field) else default
