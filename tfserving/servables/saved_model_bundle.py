"""A loaded SavedModel version: its signature defs and a session that runs them.

As in TF Serving, the bundle's session is what requests run on; with batching
enabled it is a `BatchingSession` wrapping the direct one. The MetaGraphDef is
read from `saved_model.pb` itself, so metadata shows exactly the signature defs
the real server shows.
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import grpc
import numpy as np
import tensorflow as tf
from google.protobuf import message, text_format
from tensorflow.core.protobuf import meta_graph_pb2, saved_model_pb2

from tfserving.core.servable_id import ServableId
from tfserving.errors import ServingError, failed_precondition, not_found
from tfserving.servables.signature_runner import SignatureRunner, runtime_error, tensor_shape
from tfserving.servables.tensor_codec import BY_ENUM, DType

SERVE_TAG = "serve"


class Session(Protocol):
    """Runs a signature on named numpy inputs and returns the named outputs."""

    def run(
        self, signature_name: str, inputs: Mapping[str, np.ndarray], output_names: Sequence[str]
    ) -> dict[str, np.ndarray]: ...

    def close(self) -> None: ...


class DirectSession:
    """Runs each request on its own (no batching)."""

    def __init__(self, runners: Mapping[str, SignatureRunner]) -> None:
        self._runners = runners

    def run(
        self, signature_name: str, inputs: Mapping[str, np.ndarray], output_names: Sequence[str]
    ) -> dict[str, np.ndarray]:
        """Run `signature_name` (which must have a runner) on `inputs`."""
        runner = self._runners.get(signature_name)
        if runner is None:
            raise failed_precondition(
                f'Serving signature key "{signature_name}" has no function to run.'
            )
        return runner(inputs, output_names)

    def close(self) -> None:
        """Nothing to release: the bundle's model goes with the last reference to it."""


@dataclass(frozen=True)
class InputSpec:
    """One signature input: its dtype and declared shape, checked on every request."""

    name: str
    dtype_enum: int
    dtype: DType | None
    declared: tuple[int, ...] | None
    known_dims: tuple[tuple[int, int], ...]

    @classmethod
    def from_tensor_info(cls, name: str, info: meta_graph_pb2.TensorInfo) -> "InputSpec":
        """The spec of a SignatureDef input (-1 for unknown dims, None for unknown rank)."""
        shape = tensor_shape(info)
        declared = None if shape is None else tuple(-1 if d is None else d for d in shape)
        known = () if declared is None else tuple((i, d) for i, d in enumerate(declared) if d >= 0)
        return cls(name, info.dtype, BY_ENUM.get(info.dtype), declared, known)

    def shape_matches(self, shape: tuple[int, ...]) -> bool:
        """Same rank as declared and equal wherever the declared size is known."""
        declared = self.declared
        if declared is None:
            return True
        if len(shape) != len(declared):
            return False
        return not self.known_dims or all(shape[i] == d for i, d in self.known_dims)


@dataclass(frozen=True)
class Signature:
    """A SignatureDef with its inputs prepared for fast checks."""

    name: str
    signature_def: meta_graph_pb2.SignatureDef
    inputs: Mapping[str, InputSpec]
    output_names: tuple[str, ...]

    @classmethod
    def from_signature_def(
        cls, name: str, signature_def: meta_graph_pb2.SignatureDef
    ) -> "Signature":
        """Prepare one signature."""
        return cls(
            name,
            signature_def,
            {n: InputSpec.from_tensor_info(n, i) for n, i in signature_def.inputs.items()},
            tuple(sorted(signature_def.outputs)),
        )


@dataclass(frozen=True)
class SavedModelBundle:
    """One loaded version: id, folder, signatures and the session to run them."""

    id: ServableId
    path: Path
    signature_defs: Mapping[str, meta_graph_pb2.SignatureDef]
    signatures: Mapping[str, Signature]
    session: Session
    model: Any


def read_meta_graph_def(path: Path, tag: str = SERVE_TAG) -> meta_graph_pb2.MetaGraphDef:
    """The MetaGraphDef tagged `tag` in the SavedModel at `path`."""
    saved_model = saved_model_pb2.SavedModel()
    binary = path / "saved_model.pb"
    try:
        if binary.exists():
            saved_model.ParseFromString(binary.read_bytes())
        else:
            text_format.Parse((path / "saved_model.pbtxt").read_text(), saved_model)
    except (message.DecodeError, text_format.ParseError) as error:
        raise ServingError(
            grpc.StatusCode.DATA_LOSS, f"Can't parse {binary} as binary proto: {error}"
        ) from error
    for meta_graph in saved_model.meta_graphs:
        if tag in meta_graph.meta_info_def.tags:
            return meta_graph
    raise not_found(
        f"Could not find meta graph def matching supplied tags: {{ {tag} }}. To inspect "
        "available tag-sets in the SavedModel, please use the SavedModel CLI: `saved_model_cli`"
    )


def load_saved_model_bundle(
    servable_id: ServableId,
    path: Path,
    wrap_session: Callable[[DirectSession, ServableId], Session] | None = None,
) -> SavedModelBundle:
    """Load the SavedModel at `path` and prepare a runner for each signature."""
    meta_graph = read_meta_graph_def(path)
    try:
        model = tf.saved_model.load(str(path), tags=[SERVE_TAG])
    except tf.errors.OpError as error:
        raise runtime_error(error) from error
    runners = {
        name: SignatureRunner(signature_def, model.signatures[name])
        for name, signature_def in meta_graph.signature_def.items()
        if name in model.signatures
    }
    session: Session = DirectSession(runners)
    if wrap_session is not None:
        session = wrap_session(session, servable_id)
    return SavedModelBundle(
        id=servable_id,
        path=path,
        signature_defs=dict(meta_graph.signature_def),
        signatures={
            name: Signature.from_signature_def(name, signature_def)
            for name, signature_def in meta_graph.signature_def.items()
        },
        session=session,
        model=model,
    )
