"""The thinnest "HTTP in, one gRPC hop, HTTP out" in Python: the floor under our gateway.

    python -P floor_gateway.py --port 8000 --target 127.0.0.1:8500 \
        --request predict_request.bin --answer answer.json

uvicorn with the gateway's loop and HTTP parser (uvloop, httptools; no access log, no
server header) runs a raw ASGI callable (no framework, no validation, no middleware)
that, for any HTTP request, reads the body, `json.loads` it, sends `--request` (the
serialized `PredictRequest` our gateway sends for the example) to `--target` with one
`grpc.aio` unary `Predict` (bytes in, bytes out: no protobuf work), and answers
`--answer` (our gateway's JSON for the example). A failed call raises, so uvicorn
answers 500.
"""

import argparse
import json
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

import grpc
import uvicorn

from covertype import defaults
from gateway.model_client import PREDICT_METHOD

TIMEOUT_SECONDS = 10.0

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class FloorApp:
    """The ASGI app: a canned gRPC call and a canned answer per HTTP request."""

    def __init__(self, target: str, request: bytes, answer: bytes) -> None:
        self._target = target
        self._request = request
        self._answer = answer
        self._headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(answer)).encode()),
        ]
        self._channel: grpc.aio.Channel | None = None
        self._predict: grpc.aio.UnaryUnaryMultiCallable | None = None

    async def __call__(self, scope: Message, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        body = b""
        more_body = True
        while more_body:
            message = await receive()
            body += message.get("body", b"")
            more_body = message.get("more_body", False)
        json.loads(body)
        await self._predict(self._request, timeout=TIMEOUT_SECONDS)  # type: ignore[misc]
        await send({"type": "http.response.start", "status": 200, "headers": self._headers})
        await send({"type": "http.response.body", "body": self._answer})

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        """The channel lives in uvicorn's loop (grpc.aio binds it to the loop it starts in)."""
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self._channel = grpc.aio.insecure_channel(self._target)
                self._predict = self._channel.unary_unary(PREDICT_METHOD)
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self._channel is not None:
                    await self._channel.close()
                await send({"type": "lifespan.shutdown.complete"})
                return


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--target", required=True, help="the gRPC server, host:port")
    parser.add_argument(
        "--request", type=Path, required=True, help="a serialized PredictRequest to send"
    )
    parser.add_argument("--answer", type=Path, required=True, help="the JSON body to answer")
    args = parser.parse_args()
    app = FloorApp(args.target, args.request.read_bytes(), args.answer.read_bytes())
    uvicorn.run(
        app,
        host=defaults.HOST,
        port=args.port,
        loop="uvloop",
        http="httptools",
        access_log=False,
        server_header=False,
        log_level="warning",
    )


if __name__ == "__main__":
    main()
