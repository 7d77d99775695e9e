"""The gRPC status -> HTTP status table, and the error body."""

import json

import grpc
import pytest

from gateway.errors import ApiError, from_backend, invalid_input
from gateway.model_client import BackendError
from gateway.observations import Problem
from gateway.predictions import VersionChoice

LABEL = VersionChoice(label="canary")


@pytest.mark.parametrize(
    ("code", "details", "choice", "status", "error"),
    [
        (
            grpc.StatusCode.UNAVAILABLE,
            "connection refused",
            VersionChoice(),
            503,
            "backend_unavailable",
        ),
        (
            grpc.StatusCode.DEADLINE_EXCEEDED,
            "Deadline Exceeded",
            VersionChoice(),
            504,
            "backend_timeout",
        ),
        (
            grpc.StatusCode.NOT_FOUND,
            "Servable not found for request: Specific(covertype, 9)",
            VersionChoice(version=9),
            404,
            "model_version_not_found",
        ),
        (
            grpc.StatusCode.NOT_FOUND,
            "Could not find any versions of model covertype",
            VersionChoice(),
            404,
            "model_not_found",
        ),
        (
            grpc.StatusCode.INVALID_ARGUMENT,
            "Unrecognized servable version label: canary",
            LABEL,
            404,
            "model_label_not_found",
        ),
        (
            grpc.StatusCode.INVALID_ARGUMENT,
            "input size does not match signature",
            VersionChoice(),
            400,
            "rejected_by_model_server",
        ),
        (
            grpc.StatusCode.INVALID_ARGUMENT,
            "Unrecognized servable version label: x",
            VersionChoice(),
            400,
            "rejected_by_model_server",
        ),
        (grpc.StatusCode.INTERNAL, "boom", VersionChoice(), 502, "backend_error"),
        (
            grpc.StatusCode.FAILED_PRECONDITION,
            "no signature",
            VersionChoice(),
            502,
            "backend_error",
        ),
    ],
)
def test_grpc_status_maps_to_http_status(
    code: grpc.StatusCode, details: str, choice: VersionChoice, status: int, error: str
) -> None:
    mapped = from_backend(BackendError("Predict", code, details), choice)
    assert (mapped.status_code, mapped.code) == (status, error)
    # The model server's own messages about models reach the client; transport and
    # server failures are logged with their details, not shown.
    assert (details in mapped.message) == (status in (400, 404))
    assert mapped.log_detail is None or details in mapped.log_detail
    assert ("Retry-After" in mapped.headers) == (status == 503)


def test_transport_details_and_addresses_stay_in_the_log() -> None:
    details = "failed to connect to all addresses; last error: ipv4:10.1.2.3:8500: refused"
    mapped = from_backend(
        BackendError("Predict", grpc.StatusCode.UNAVAILABLE, details), VersionChoice()
    )
    assert "10.1.2.3" not in json.dumps(mapped.body("rid"))
    assert mapped.log_detail is not None and "10.1.2.3" in mapped.log_detail


def test_listed_problems_are_bounded_and_counted() -> None:
    problems = [Problem(i, "Elevation", "out_of_domain", "rule") for i in range(3)]
    body = invalid_input(problems, count=5000).body("rid")
    assert len(body["problems"]) == 3
    assert body["problem_count"] == 5000
    assert body["message"] == "5000 problems in the request, the first 3 listed; see problems"


def test_error_body_carries_request_id_and_problems() -> None:
    error = invalid_input([Problem(0, "Elevation", "out_of_domain", "must be between 0 and 8849")])
    assert error.body("rid-1") == {
        "error": "invalid_input",
        "message": "1 problem in the request; see problems",
        "request_id": "rid-1",
        "problems": [
            {
                "instance": 0,
                "field": "Elevation",
                "kind": "out_of_domain",
                "rule": "must be between 0 and 8849",
            }
        ],
        "problem_count": 1,
    }
    assert "problems" not in ApiError(400, "malformed_json", "bad").body("rid-2")
