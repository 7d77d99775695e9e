"""Turning a servicer's work into a gRPC response and status (TF Serving's ToGRPCStatus)."""

import logging
from collections.abc import Callable
from typing import TypeVar

import grpc
from google.protobuf import message

from tfserving.errors import ServingError, internal

logger = logging.getLogger(__name__)

Response = TypeVar("Response", bound=message.Message)


def respond(
    context: grpc.ServicerContext, empty: Response, work: Callable[[], Response]
) -> tuple[Response, grpc.StatusCode]:
    """Run `work`; on failure set the status on `context` and return `empty`.

    A ServingError keeps its code and message; anything else is a bug, logged and
    answered with INTERNAL, so a bad request can never take the server down.
    """
    try:
        return work(), grpc.StatusCode.OK
    except ServingError as error:
        failure = error
    except Exception as error:
        logger.exception("request failed unexpectedly")
        failure = internal(f"{type(error).__name__}: {error}")
    context.set_code(failure.code)
    context.set_details(failure.message)
    return empty, failure.code
