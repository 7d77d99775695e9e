"""One JSON object per log line, for every process of the project (gateway, model server).

Each line has `time` (UTC, milliseconds), `level`, `logger`, the message under the key
the process chooses (`message`, or `event` for the model server's named events), then
every field the call passed: `extra={"key": value}`, or `extra={"fields": {...}}`.
"""

import json
import logging
import time
from typing import Any

# Attributes every LogRecord has; anything else was passed in `extra=` and is logged.
# uvicorn adds `color_message`, a copy of the message with terminal colour codes.
_STANDARD_ATTRIBUTES = frozenset(logging.makeLogRecord({}).__dict__) | {
    "message",
    "asctime",
    "color_message",
}


class JsonFormatter(logging.Formatter):
    """Format a record as one JSON object: time, level, logger, message, then its fields."""

    def __init__(self, message_key: str = "message") -> None:
        super().__init__()
        self.message_key = message_key

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            self.message_key: record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key == "fields":
                entry.update(value)
            elif key not in _STANDARD_ATTRIBUTES and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)
