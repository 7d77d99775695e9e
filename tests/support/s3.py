"""A real S3 server for tests: `rclone serve s3` (registry.local_s3) on a free port.

    with start_s3_server(tmp_path / "s3") as s3:
        s3.create_bucket("models")
        env = s3.environment()  # AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_ENDPOINT_URL, ...

rclone's S3 server keeps buckets as folders of `root`; it has no bucket versioning and
ignores `If-None-Match`, which is exactly the weakest service the registry must handle.
"""

from pathlib import Path

from registry.local_s3 import LocalS3Server as RunningS3Server
from registry.local_s3 import start_local_s3
from tests.support.ports import free_port

__all__ = ["RunningS3Server", "start_s3_server"]


def start_s3_server(root: Path) -> RunningS3Server:
    """Start `rclone serve s3` over the folder `root` with fresh credentials on a free port."""
    return start_local_s3(root, free_port(), root.parent / f"{root.name}-rclone.log")
