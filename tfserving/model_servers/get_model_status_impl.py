"""GetModelStatus, shared by the gRPC ModelService and the REST status API."""

from tensorflow_serving.apis import get_model_status_pb2

from tfserving.core.servable_state import ServableState
from tfserving.errors import invalid_argument, not_found
from tfserving.model_servers.server_core import ServerCore

_STATE = get_model_status_pb2.ModelVersionStatus.State


def get_model_status(
    core: ServerCore, request: get_model_status_pb2.GetModelStatusRequest
) -> get_model_status_pb2.GetModelStatusResponse:
    """Every version's state (or one version's, by number or label), newest first."""
    if not request.HasField("model_spec"):
        raise invalid_argument("Missing ModelSpec")
    spec = request.model_spec
    name = spec.name
    states = core.version_states(name)
    response = get_model_status_pb2.GetModelStatusResponse()
    choice = spec.WhichOneof("version_choice")
    if choice is not None:
        version = (
            spec.version.value
            if choice == "version"
            else core.version_for_label(name, spec.version_label)
        )
        if version not in states:
            raise not_found(f"Could not find version {version} of model {name}")
        _add(response, states[version])
        return response
    if not states:
        raise not_found(f"Could not find any versions of model {name}")
    for version in sorted(states, reverse=True):
        _add(response, states[version])
    return response


def _add(response: get_model_status_pb2.GetModelStatusResponse, state: ServableState) -> None:
    status = response.model_version_status.add()
    status.version = state.id.version
    status.state = _STATE.Value(state.manager_state.value)
    status.status.SetInParent()
    if state.health is not None:
        status.status.error_code = state.health.code_number
        status.status.error_message = state.health.message
