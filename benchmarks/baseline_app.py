"""Benchmark baseline: the usual "model inside the web app" design, one FastAPI process.

It loads the SavedModel in-process and calls its matrix signature on every request,
with the same request format, validation and response as the gateway, so the only
difference measured is where the model runs. The model call runs in FastAPI's
thread pool (as a plain `def` endpoint would; TensorFlow releases the GIL while it
computes), so concurrent requests overlap.

    python -P benchmarks/baseline_app.py --saved-model models/covertype/1 --port 8100

(`-P`: keep benchmarks/ off sys.path, where benchmarks/gateway.py would shadow the
gateway package.)
"""

import argparse
from pathlib import Path

import tensorflow as tf
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from covertype import defaults, schema
from gateway.observations import InvalidInstances, validate_instances
from gateway.payload import MalformedJson, parse_body

MAX_INSTANCES = 1000


def create_app(saved_model: Path, version: int) -> FastAPI:
    """An app serving `POST /v1/predict` from the SavedModel at `saved_model`."""
    signature = tf.saved_model.load(str(saved_model)).signatures[defaults.MATRIX_SIGNATURE]
    class_names = [schema.CLASS_NAMES[k] for k in sorted(schema.CLASS_NAMES)]

    def predict_rows(rows: list[list[float]]) -> dict[str, object]:
        outputs = signature(**{defaults.MATRIX_INPUT: tf.constant(rows, dtype=tf.float32)})
        classes = outputs[defaults.OUTPUT_COVER_TYPE].numpy().tolist()
        probabilities = outputs[defaults.OUTPUT_PROBABILITIES].numpy().tolist()
        return {
            "model_name": defaults.MODEL_NAME,
            "model_version": version,
            "predictions": [
                {
                    "cover_type": cover_type,
                    "cover_type_name": schema.CLASS_NAMES[cover_type],
                    "probabilities": dict(zip(class_names, row, strict=True)),
                }
                for cover_type, row in zip(classes, probabilities, strict=True)
            ],
        }

    app = FastAPI(title="covertype baseline (model in the web app)")

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/v1/predict")
    async def predict(request: Request) -> Response:
        try:
            rows = validate_instances(parse_body(await request.body(), MAX_INSTANCES))
        except (MalformedJson, InvalidInstances) as error:
            return JSONResponse({"error": str(error)}, status_code=400)
        return JSONResponse(await run_in_threadpool(predict_rows, rows))

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve the baseline app.")
    parser.add_argument("--saved-model", type=Path, required=True, help="a model version folder")
    parser.add_argument("--host", default=defaults.HOST)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    app = create_app(args.saved_model, int(args.saved_model.name))
    uvicorn.run(app, host=args.host, port=args.port, access_log=False, log_level="warning")


if __name__ == "__main__":
    main()
