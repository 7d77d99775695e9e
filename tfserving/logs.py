"""Structured logs: one JSON object per line on stderr, for every service event.

Events are logged with `log_event(logger, "servable_loaded", model=..., version=...)`;
the fields become top-level keys next to `time`, `level`, `logger` and `event`.
Requests are not logged (that would cost more than the prediction itself); the
metrics count them.
"""

import logging
import sys
from typing import Any

from covertype.json_logs import JsonFormatter

ROOT_LOGGER = "tfserving"


def configure_logging(level: int = logging.INFO) -> None:
    """Send the server's logs to stderr as JSON lines (idempotent).

    TensorFlow's own Python warnings (e.g. that the TF1 loader, used on purpose to
    check versions the way TF Serving loads them, is deprecated) are silenced.
    """
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    logger = logging.getLogger(ROOT_LOGGER)
    logger.setLevel(level)
    logger.propagate = False
    if not any(isinstance(h.formatter, JsonFormatter) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonFormatter(message_key="event"))
        logger.addHandler(handler)


def log_event(logger: logging.Logger, event: str, level: int = logging.INFO, **fields: Any) -> None:
    """Log one event with structured fields."""
    if logger.isEnabledFor(level):
        logger.log(level, event, extra={"fields": fields})
