"""The covertype model on Ray Serve: one replica, `POST /v1/predict`, started on a local Ray.

    RAY_SERVE_...=... python ray_app.py --saved-model models/covertype/1 --port 8200 \
        --dashboard-port 8266 --temp-dir /tmp/ray-x [--max-ongoing-requests 100]

Ray Serve's own tuning is set by environment variables before Ray starts (the caller,
benchmarks/peers.py, sets them); this module only chooses the deployment's options.
It runs until SIGTERM or SIGINT, then shuts Serve and Ray down.
"""

import argparse
import signal
import threading
from pathlib import Path

import ray
from predictor import MAX_INSTANCES, SavedModelPredictor
from ray import serve
from starlette.requests import Request
from starlette.responses import JSONResponse

from gateway.decoding import decode_instances
from gateway.observations import InvalidInstances
from gateway.payload import MalformedJson

ROUTE = "/v1/predict"


@serve.deployment
class CovertypeModel:
    """Validates the JSON body and calls the SavedModel in the replica's event loop."""

    def __init__(self, saved_model: str) -> None:
        self._predictor = SavedModelPredictor(Path(saved_model))

    async def __call__(self, request: Request) -> JSONResponse:
        try:
            rows = decode_instances(await request.body(), MAX_INSTANCES)
        except (MalformedJson, InvalidInstances) as error:
            return JSONResponse({"error": str(error)}, status_code=400)
        return JSONResponse(self._predictor.answer(rows))


def main() -> None:
    """Start Ray and Serve, deploy the model, and wait for a stop signal."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--saved-model", type=Path, required=True, help="a model version folder")
    parser.add_argument("--port", type=int, required=True, help="Serve's HTTP port")
    parser.add_argument("--dashboard-port", type=int, required=True)
    parser.add_argument("--temp-dir", type=Path, required=True, help="Ray's session folder")
    parser.add_argument(
        "--max-ongoing-requests", type=int, help="the deployment's; default: Serve's own"
    )
    args = parser.parse_args()
    stopping = threading.Event()
    for stop_signal in (signal.SIGTERM, signal.SIGINT):
        signal.signal(stop_signal, lambda *_: stopping.set())
    ray.init(_temp_dir=str(args.temp_dir), dashboard_port=args.dashboard_port)
    try:
        serve.start(http_options={"host": "127.0.0.1", "port": args.port})
        deployment = CovertypeModel
        if args.max_ongoing_requests is not None:
            deployment = deployment.options(max_ongoing_requests=args.max_ongoing_requests)
        serve.run(deployment.bind(str(args.saved_model.resolve())), route_prefix=ROUTE)
        print("serving", flush=True)
        while not stopping.wait(0.5):
            pass
        serve.shutdown()
    finally:
        ray.shutdown()


if __name__ == "__main__":
    main()
