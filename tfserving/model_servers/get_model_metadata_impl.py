"""GetModelMetadata, shared by the gRPC PredictionService and the REST metadata API."""

from tensorflow_serving.apis import get_model_metadata_pb2

from tfserving.errors import invalid_argument
from tfserving.model_servers.server_core import ServerCore

SIGNATURE_DEF_FIELD = "signature_def"


def get_model_metadata(
    core: ServerCore, request: get_model_metadata_pb2.GetModelMetadataRequest
) -> get_model_metadata_pb2.GetModelMetadataResponse:
    """The model spec and signature defs of the version the request names."""
    if not request.HasField("model_spec"):
        raise invalid_argument("Missing ModelSpec")
    if not request.metadata_field:
        raise invalid_argument("GetModelMetadataRequest must specify at least one metadata_field")
    for field in request.metadata_field:
        if field != SIGNATURE_DEF_FIELD:
            raise invalid_argument(f"Metadata field {field} is not supported")
    bundle = core.servable_handle(request.model_spec)
    response = get_model_metadata_pb2.GetModelMetadataResponse()
    response.model_spec.name = bundle.id.name
    response.model_spec.version.value = bundle.id.version
    signature_defs = get_model_metadata_pb2.SignatureDefMap()
    for name, signature_def in bundle.signature_defs.items():
        signature_defs.signature_def[name].CopyFrom(signature_def)
    response.metadata[SIGNATURE_DEF_FIELD].Pack(signature_defs)
    return response
