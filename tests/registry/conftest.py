"""Fixtures: a real S3 server (rclone) with one bucket, and the AWS_* variables set for it."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.s3 import RunningS3Server, start_s3_server


@pytest.fixture
def s3_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[RunningS3Server]:
    """`rclone serve s3` on a free port; this test's environment points boto3 at it."""
    with start_s3_server(tmp_path / "s3") as server:
        for name, value in server.environment().items():
            monkeypatch.setenv(name, value)
        yield server


@pytest.fixture
def s3_registry(s3_server: RunningS3Server) -> str:
    """`s3://models/registry`: a bucket made through the S3 API, and a prefix in it."""
    return s3_server.create_bucket("models") + "/registry"
