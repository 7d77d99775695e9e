"""Run the gateway app under uvicorn (uvloop + httptools), with JSON logs."""

import logging
import logging.config
import math

import uvicorn

from covertype.http_protocol import ConnectionLimits, guarded_protocol
from gateway.app import create_app
from gateway.errors import protocol_error_body
from gateway.logs import logging_config
from gateway.settings import GatewaySettings


def serve(settings: GatewaySettings) -> None:
    """Serve until interrupted (SIGINT / SIGTERM shut down gracefully)."""
    config = logging_config()
    logging.config.dictConfig(config)
    # The logging HOWTO's "Optimization" switches: the access log writes a line per
    # request and needs neither the caller's source line nor thread/process names.
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    logging.getLogger("covertype.gateway").info(
        "starting gateway",
        extra={
            "host": settings.host,
            "port": settings.port,
            "tfserving": settings.tfserving,
            "model_name": settings.model_name,
        },
    )
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        http=guarded_protocol(
            ConnectionLimits(
                max_header_bytes=settings.max_header_bytes,
                read_timeout_seconds=settings.read_timeout_seconds,
                max_connections=settings.max_connections,
                error_body=protocol_error_body,
            )
        ),
        log_config=config,
        access_log=False,  # the gateway writes its own JSON access log
        server_header=False,
        # On SIGTERM / SIGINT: stop listening, then give the requests in flight as long
        # as their backend deadline allows, plus a second to answer.
        timeout_graceful_shutdown=math.ceil(settings.timeout_seconds) + 1,
    )
