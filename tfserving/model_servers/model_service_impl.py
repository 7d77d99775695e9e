"""The gRPC ModelService: GetModelStatus and HandleReloadConfigRequest."""

import logging

import grpc
from tensorflow_serving.apis import (
    get_model_status_pb2,
    model_management_pb2,
    model_service_pb2_grpc,
)

from tfserving.errors import ServingError, invalid_argument
from tfserving.logs import log_event
from tfserving.model_servers.get_model_status_impl import get_model_status
from tfserving.model_servers.grpc_status_util import respond
from tfserving.model_servers.server_core import ServerCore

logger = logging.getLogger(__name__)


class ModelServiceImpl(model_service_pb2_grpc.ModelServiceServicer):
    """TF Serving's ModelService on a ServerCore."""

    def __init__(self, core: ServerCore) -> None:
        self._core = core

    def GetModelStatus(
        self, request: get_model_status_pb2.GetModelStatusRequest, context: grpc.ServicerContext
    ) -> get_model_status_pb2.GetModelStatusResponse:
        """The state of every version of a model (or of one version)."""
        return respond(
            context,
            get_model_status_pb2.GetModelStatusResponse(),
            lambda: get_model_status(self._core, request),
        )[0]

    def HandleReloadConfigRequest(
        self, request: model_management_pb2.ReloadConfigRequest, context: grpc.ServicerContext
    ) -> model_management_pb2.ReloadConfigResponse:
        """Replace the served config; models left out are unloaded."""
        response = model_management_pb2.ReloadConfigResponse()
        try:
            if request.config.WhichOneof("config") != "model_config_list":
                raise invalid_argument(
                    "ServerModelConfig type not supported by HandleReloadConfigRequest. Only "
                    "ModelConfigList is currently supported"
                )
            self._core.reload_config(request.config)
        except ServingError as error:
            log_event(logger, "config_reload_failed", logging.ERROR, source="rpc", error=str(error))
            response.status.error_code = error.code_number
            response.status.error_message = error.message
            context.set_code(error.code)
            context.set_details(error.message)
            return response
        log_event(
            logger,
            "config_reloaded",
            source="rpc",
            models=[m.name for m in request.config.model_config_list.config],
        )
        return response
