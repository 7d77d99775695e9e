"""The console's settings, from its command line."""

from dataclasses import dataclass
from pathlib import Path

from covertype.defaults import MODEL_NAME

DEFAULT_PORT = 8090
DEFAULT_GATEWAY = "http://127.0.0.1:8000"


@dataclass(frozen=True)
class ConsoleSettings:
    """Where the console reads from, and where it listens."""

    gateway: str = DEFAULT_GATEWAY
    # A models folder or s3://bucket/prefix; None: no model cards and no release history.
    registry: str | None = None
    model_name: str = MODEL_NAME
    # The gateway's prediction log (rotated files beside it are read too); None: no drift.
    prediction_log: Path | None = None
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    # How often the page refreshes its live panels, and how much traffic history it keeps.
    refresh_seconds: float = 2.0
    traffic_window_seconds: float = 600.0
    timeout_seconds: float = 5.0
