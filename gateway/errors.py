"""The gateway's error responses: one exception type, one JSON shape, one gRPC-to-HTTP table.

Every error body is `{"error": code, "message": ..., "request_id": ..., "problems": [...]}`
(`problems` only for invalid input).
"""

from collections.abc import Mapping, Sequence
from dataclasses import asdict

import grpc

from gateway.model_client import BackendError
from gateway.observations import Problem
from gateway.predictions import VersionChoice

RETRY_AFTER_SECONDS = 1

# TF Serving answers an unknown version label with INVALID_ARGUMENT and this message
# (server_core.cc); for the REST API an unknown label is a missing resource, like an
# unknown version.
_UNKNOWN_LABEL_MESSAGE = "Unrecognized servable version label"


class ApiError(Exception):
    """An HTTP error the gateway answers on purpose (never a 500)."""

    def __init__(
        self,
        status_code: int,
        code: str,
        message: str,
        problems: Sequence[Problem] = (),
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.code = code
        self.message = message
        self.problems = tuple(problems)
        self.headers = dict(headers or {})

    def body(self, request_id: str) -> dict[str, object]:
        """The JSON body of the response."""
        body: dict[str, object] = {
            "error": self.code,
            "message": self.message,
            "request_id": request_id,
        }
        if self.problems:
            body["problems"] = [asdict(problem) for problem in self.problems]
        return body


def invalid_input(problems: Sequence[Problem]) -> ApiError:
    """422 listing every problem."""
    count = len(problems)
    message = f"{count} problem{'s' if count != 1 else ''} in the request; see problems"
    return ApiError(422, "invalid_input", message, problems)


def from_backend(error: BackendError, choice: VersionChoice) -> ApiError:
    """Map a failed gRPC call to the HTTP status the REST API promises."""
    code, details = error.code, error.details
    if code == grpc.StatusCode.UNAVAILABLE:
        return ApiError(
            503,
            "backend_unavailable",
            f"the model server is unavailable: {details}",
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return ApiError(
            504, "backend_timeout", f"the model server did not answer in time: {details}"
        )
    if code == grpc.StatusCode.NOT_FOUND:
        if choice.version is None and choice.label is None:
            return ApiError(404, "model_not_found", details)
        return ApiError(404, "model_version_not_found", details)
    if code == grpc.StatusCode.INVALID_ARGUMENT:
        if choice.label is not None and _UNKNOWN_LABEL_MESSAGE in details:
            return ApiError(404, "model_label_not_found", details)
        return ApiError(400, "rejected_by_model_server", details)
    return ApiError(502, "backend_error", f"the model server failed: {code.name}: {details}")
