"""The gateway's error responses: one exception type, one JSON shape, one gRPC-to-HTTP table.

Every error body is `{"error": code, "message": ..., "request_id": ..., "problems": [...],
"problem_count": n}` (`problems` and `problem_count` only for invalid input). Messages
never carry the model server's address or transport details: those go to the log.
"""

import json
import logging
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import asdict

import grpc
from starlette.responses import JSONResponse

from gateway.model_client import BackendError
from gateway.observations import Problem
from gateway.predictions import VersionChoice

RETRY_AFTER_SECONDS = 1
_log = logging.getLogger("covertype.gateway")

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
        *,
        problem_count: int | None = None,
        log_detail: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.code = code
        self.message = message
        self.problems = tuple(problems)
        self.problem_count = len(self.problems) if problem_count is None else problem_count
        self.headers = dict(headers or {})
        self.log_detail = log_detail  # for the operator's log, never for the client

    def body(self, request_id: str) -> dict[str, object]:
        """The JSON body of the response."""
        body: dict[str, object] = {
            "error": self.code,
            "message": self.message,
            "request_id": request_id,
        }
        if self.problems:
            body["problems"] = [asdict(problem) for problem in self.problems]
            body["problem_count"] = self.problem_count
        return body


def error_response(error: ApiError, request_id: str) -> JSONResponse:
    """The JSON response for `error`; its `log_detail`, if any, goes to the log."""
    if error.log_detail is not None:
        _log.warning("%s: %s", error.code, error.log_detail, extra={"request_id": request_id})
    return JSONResponse(
        error.body(request_id), status_code=error.status_code, headers=error.headers
    )


def protocol_error_body(code: str, message: str) -> bytes:
    """The body of a refusal made before the app saw the request (431, 408): same shape."""
    request_id = uuid.uuid4().hex
    _log.warning("%s: %s", code, message, extra={"request_id": request_id})
    return json.dumps({"error": code, "message": message, "request_id": request_id}).encode()


def invalid_input(problems: Sequence[Problem], count: int | None = None) -> ApiError:
    """422 listing the problems (`count`: how many there are if not all are listed)."""
    total = len(problems) if count is None else count
    listed = "" if total == len(problems) else f", the first {len(problems)} listed"
    message = f"{total} problem{'s' if total != 1 else ''} in the request{listed}; see problems"
    return ApiError(422, "invalid_input", message, problems, problem_count=total)


def from_backend(error: BackendError, choice: VersionChoice) -> ApiError:
    """Map a failed gRPC call to the HTTP status the REST API promises."""
    code, details = error.code, error.details
    if code == grpc.StatusCode.UNAVAILABLE:
        return ApiError(
            503,
            "backend_unavailable",
            "the model server is unavailable; retry later",
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
            log_detail=str(error),
        )
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return ApiError(
            504,
            "backend_timeout",
            "the model server did not answer within the deadline",
            log_detail=str(error),
        )
    if code == grpc.StatusCode.NOT_FOUND:
        if choice.version is None and choice.label is None:
            return ApiError(404, "model_not_found", details)
        return ApiError(404, "model_version_not_found", details)
    if code == grpc.StatusCode.INVALID_ARGUMENT:
        if choice.label is not None and _UNKNOWN_LABEL_MESSAGE in details:
            return ApiError(404, "model_label_not_found", details)
        return ApiError(400, "rejected_by_model_server", details)
    return ApiError(
        502, "backend_error", f"the model server failed ({code.name})", log_detail=str(error)
    )
