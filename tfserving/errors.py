"""Errors with TF Serving's status codes, shared by every layer of the server.

A `ServingError` carries a gRPC status code and a message. The servicers turn it
into a gRPC status, the REST API into `{"error": message}` with the HTTP status
TF Serving uses for that code, and `GetModelStatus` into a `StatusProto`.
"""

from http import HTTPStatus

import grpc

# TF Serving's ToHTTPStatusCode (model_servers/http_server.cc).
_HTTP_STATUS: dict[grpc.StatusCode, int] = {
    grpc.StatusCode.OK: HTTPStatus.OK,
    grpc.StatusCode.CANCELLED: 499,
    grpc.StatusCode.UNKNOWN: HTTPStatus.INTERNAL_SERVER_ERROR,
    grpc.StatusCode.INVALID_ARGUMENT: HTTPStatus.BAD_REQUEST,
    grpc.StatusCode.DEADLINE_EXCEEDED: HTTPStatus.GATEWAY_TIMEOUT,
    grpc.StatusCode.NOT_FOUND: HTTPStatus.NOT_FOUND,
    grpc.StatusCode.ALREADY_EXISTS: HTTPStatus.CONFLICT,
    grpc.StatusCode.PERMISSION_DENIED: HTTPStatus.FORBIDDEN,
    grpc.StatusCode.RESOURCE_EXHAUSTED: HTTPStatus.TOO_MANY_REQUESTS,
    grpc.StatusCode.FAILED_PRECONDITION: HTTPStatus.BAD_REQUEST,
    grpc.StatusCode.ABORTED: HTTPStatus.CONFLICT,
    grpc.StatusCode.OUT_OF_RANGE: HTTPStatus.BAD_REQUEST,
    grpc.StatusCode.UNIMPLEMENTED: HTTPStatus.NOT_IMPLEMENTED,
    grpc.StatusCode.INTERNAL: HTTPStatus.INTERNAL_SERVER_ERROR,
    grpc.StatusCode.UNAVAILABLE: HTTPStatus.SERVICE_UNAVAILABLE,
    grpc.StatusCode.DATA_LOSS: HTTPStatus.INTERNAL_SERVER_ERROR,
    grpc.StatusCode.UNAUTHENTICATED: HTTPStatus.UNAUTHORIZED,
}

_BY_NUMBER: dict[int, grpc.StatusCode] = {code.value[0]: code for code in grpc.StatusCode}


class ServingError(Exception):
    """A request or a servable failed with one of TF Serving's status codes."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    @property
    def http_status(self) -> int:
        """The HTTP status TF Serving's REST API answers for this code."""
        return int(_HTTP_STATUS.get(self.code, HTTPStatus.INTERNAL_SERVER_ERROR))

    @property
    def code_number(self) -> int:
        """The numeric code (`tensorflow.error.Code` uses the same numbers as gRPC)."""
        return int(self.code.value[0])

    def __str__(self) -> str:
        return f"{self.code.name}: {self.message}"


def code_from_number(number: int) -> grpc.StatusCode:
    """The gRPC status code with this number (UNKNOWN for numbers gRPC does not define)."""
    return _BY_NUMBER.get(number, grpc.StatusCode.UNKNOWN)


def invalid_argument(message: str) -> ServingError:
    """INVALID_ARGUMENT: the request is malformed."""
    return ServingError(grpc.StatusCode.INVALID_ARGUMENT, message)


def not_found(message: str) -> ServingError:
    """NOT_FOUND: no such model, version or servable."""
    return ServingError(grpc.StatusCode.NOT_FOUND, message)


def failed_precondition(message: str) -> ServingError:
    """FAILED_PRECONDITION: the request names something the servable lacks."""
    return ServingError(grpc.StatusCode.FAILED_PRECONDITION, message)


def unavailable(message: str) -> ServingError:
    """UNAVAILABLE: retry later (nothing loaded yet, queue full, shutting down)."""
    return ServingError(grpc.StatusCode.UNAVAILABLE, message)


def deadline_exceeded(message: str) -> ServingError:
    """DEADLINE_EXCEEDED: the request ran out of time."""
    return ServingError(grpc.StatusCode.DEADLINE_EXCEEDED, message)


def unimplemented(message: str) -> ServingError:
    """UNIMPLEMENTED: the server or the model does not offer this API."""
    return ServingError(grpc.StatusCode.UNIMPLEMENTED, message)


def internal(message: str) -> ServingError:
    """INTERNAL: a bug or an unexpected failure inside the server."""
    return ServingError(grpc.StatusCode.INTERNAL, message)
