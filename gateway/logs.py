"""Structured (one JSON object per line) logs for the gateway process, uvicorn's included."""

from typing import Any

from covertype.json_logs import JsonFormatter

ACCESS_LOGGER = "covertype.gateway.access"


def logging_config(level: str = "INFO") -> dict[str, Any]:
    """A `logging.config.dictConfig` mapping for the gateway's and uvicorn's loggers."""
    handler = {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": JsonFormatter}},
        "handlers": {"stderr": handler},
        "loggers": {
            "covertype": {"handlers": ["stderr"], "level": level, "propagate": False},
            "uvicorn": {"handlers": ["stderr"], "level": level, "propagate": False},
            "uvicorn.error": {"level": level},
        },
    }
