"""A loaded SavedModel version: its MetaGraphDef and the TensorFlow Session that runs it.

As in TF Serving, a version is loaded with the TF1 SavedModel loader into its own
Session (graph imported, variables restored, init op run), which loads SavedModels
of every TensorFlow release, TF 1.0 exports included. Each request is one
Session::Run that feeds the signature's input tensors by name and fetches its
outputs. Nothing checks input shapes against the SignatureDef: the graph decides,
as in TF Serving. With batching, the bundle's session is a `BatchingSession`
wrapping the direct one.
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import grpc
import numpy as np
import tensorflow as tf
from google.protobuf import message, text_format
from tensorflow.core.protobuf import config_pb2, meta_graph_pb2, saved_model_pb2
from tensorflow.python.client import pywrap_tf_session

from tfserving.core.servable_id import ServableId
from tfserving.errors import ServingError, failed_precondition, invalid_argument, not_found
from tfserving.servables.runtime_errors import runtime_error
from tfserving.servables.session_bundle_config import SessionBundleConfig
from tfserving.servables.tensor_codec import BY_ENUM, DType


class Session(Protocol):
    """Runs a signature on named numpy inputs and returns the named outputs.

    `timeout_in_ms` > 0 bounds the run (TF's RunOptions.timeout_in_ms): past it the
    run ends with DEADLINE_EXCEEDED.
    """

    def run(
        self,
        signature_name: str,
        inputs: Mapping[str, np.ndarray],
        output_names: Sequence[str],
        timeout_in_ms: int = 0,
    ) -> dict[str, np.ndarray]: ...

    def close(self) -> None: ...


class DirectSession:
    """Runs each request on its own TF Session::Run (no batching)."""

    def __init__(
        self,
        session: tf.compat.v1.Session,
        signature_defs: Mapping[str, meta_graph_pb2.SignatureDef],
    ) -> None:
        self._session = session
        self._signature_defs = signature_defs
        self._endpoints: dict[tuple[str, str, str], object] = {}

    def run(
        self,
        signature_name: str,
        inputs: Mapping[str, np.ndarray],
        output_names: Sequence[str],
        timeout_in_ms: int = 0,
    ) -> dict[str, np.ndarray]:
        """Run `signature_name`'s graph: feed `inputs` by alias, fetch `output_names`."""
        feeds = {
            self._endpoint(signature_name, "inputs", alias): array
            for alias, array in inputs.items()
        }
        fetches = [self._endpoint(signature_name, "outputs", alias) for alias in output_names]
        options = None
        if timeout_in_ms > 0:
            run_options = config_pb2.RunOptions(timeout_in_ms=timeout_in_ms)
            options = pywrap_tf_session.TF_NewBufferFromString(run_options.SerializeToString())
        try:
            # Session::Run as TF Serving calls it. tf.compat.v1.Session.run would first
            # check each fed shape against the graph's placeholder, which TF Serving
            # does not do (a [-1, 1] input accepts a [3] tensor if the graph can).
            outputs = self._session._call_tf_sessionrun(options, feeds, fetches, [], None)
        except tf.errors.OpError as error:
            raise runtime_error(error) from error
        finally:
            if options is not None:
                pywrap_tf_session.TF_DeleteBuffer(options)
        # Scalars may come back as numpy scalars (or bytes); callers get arrays.
        return {name: np.asarray(value) for name, value in zip(output_names, outputs, strict=True)}

    def _endpoint(self, signature_name: str, kind: str, alias: str) -> object:
        """The graph tensor (as a TF_Output) behind a signature's input or output alias."""
        key = (signature_name, kind, alias)
        endpoint = self._endpoints.get(key)
        if endpoint is None:
            signature = self._signature_defs.get(signature_name)
            if signature is None:
                raise failed_precondition(f'Serving signature key "{signature_name}" not found.')
            infos = signature.inputs if kind == "inputs" else signature.outputs
            info = infos.get(alias)
            if info is None:
                raise invalid_argument(f"{kind[:-1]} tensor alias not found in signature: {alias}")
            try:
                tensor = self._session.graph.get_tensor_by_name(info.name)
            except (KeyError, ValueError) as error:
                raise failed_precondition(
                    f"signature {signature_name} {kind[:-1]} {alias} names no tensor of the "
                    f"graph ({info.name or info.WhichOneof('encoding')})"
                ) from error
            endpoint = self._endpoints[key] = tensor._as_tf_output()
        return endpoint

    def close(self) -> None:
        """Nothing to do: the TF Session closes with the last request holding the bundle."""


# Wraps a version's session (the batching session): (session, version, its folder).
SessionWrapper = Callable[[DirectSession, ServableId, Path], Session]


@dataclass(frozen=True)
class Signature:
    """A SignatureDef with what request decoding needs: each input's dtype."""

    name: str
    signature_def: meta_graph_pb2.SignatureDef
    input_dtypes: Mapping[str, tuple[int, DType | None]]
    output_names: tuple[str, ...]

    @classmethod
    def from_signature_def(
        cls, name: str, signature_def: meta_graph_pb2.SignatureDef
    ) -> "Signature":
        """Prepare one signature."""
        return cls(
            name,
            signature_def,
            {n: (i.dtype, BY_ENUM.get(i.dtype)) for n, i in signature_def.inputs.items()},
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


def read_meta_graph_def(path: Path, tags: Sequence[str]) -> meta_graph_pb2.MetaGraphDef:
    """The MetaGraphDef of the SavedModel at `path` whose tag set is exactly `tags`."""
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
        if set(meta_graph.meta_info_def.tags) == set(tags):
            return meta_graph
    raise not_found(
        f"Could not find meta graph def matching supplied tags: {{ {' '.join(tags)} }}. To "
        "inspect available tag-sets in the SavedModel, please use the SavedModel CLI: "
        "`saved_model_cli`"
    )


def load_saved_model_bundle(
    servable_id: ServableId,
    path: Path,
    config: SessionBundleConfig,
    wrap_session: SessionWrapper | None = None,
) -> SavedModelBundle:
    """Load the SavedModel at `path` into a new Session, as TF Serving's loader does."""
    read_meta_graph_def(path, config.saved_model_tags)
    graph = tf.Graph()
    # Unlike TF Serving, no session_metadata: TF allows one live Session per name and
    # version, and an unloaded version's Session closes only with its last request.
    tf_session = tf.compat.v1.Session(graph=graph, config=config.session_config)
    try:
        with graph.as_default():
            meta_graph = tf.compat.v1.saved_model.loader.load(
                tf_session, list(config.saved_model_tags), str(path)
            )
    except tf.errors.OpError as error:
        tf_session.close()
        raise runtime_error(error) from error
    except (OSError, RuntimeError, ValueError) as error:
        tf_session.close()
        raise ServingError(grpc.StatusCode.UNKNOWN, f"SavedModel load: {error}") from error
    signature_defs = dict(meta_graph.signature_def)
    session: Session = DirectSession(tf_session, signature_defs)
    if wrap_session is not None:
        session = wrap_session(session, servable_id, path)
    return SavedModelBundle(
        id=servable_id,
        path=path,
        signature_defs=signature_defs,
        signatures={
            name: Signature.from_signature_def(name, signature_def)
            for name, signature_def in signature_defs.items()
        },
        session=session,
    )
