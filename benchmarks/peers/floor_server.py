"""A gRPC `PredictionService/Predict` that does no work: the floor under our model server.

    python -P floor_server.py --port 8500 --response predict_response.bin

It answers every call with one `PredictResponse` read at start (`--response`: our model
server's serialized answer to the example, so a gateway can parse it), without decoding
the request or running TensorFlow. The server is built as tfserving's is: grpcio's sync
`grpc.server` with a thread pool of `--grpc_max_threads`' default size and TF Serving's
message size limits. It runs until SIGTERM or SIGINT.
"""

import argparse
import os
import signal
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc

from covertype import defaults
from protos.slim import predict_pb2

SERVICE = "tensorflow.serving.PredictionService"
# tfserving's message size limit and --grpc_max_threads default (not imported from there:
# importing tfserving/ loads TensorFlow, which this server must not carry).
MAX_MESSAGE_BYTES = 2**31 - 1
HANDLER_THREADS = 4 * (os.cpu_count() or 1)


def canned_predict_server(port: int, response: predict_pb2.PredictResponse) -> grpc.Server:
    """A started server answering `Predict` with `response`, serialized once; the request's
    bytes are never parsed (no deserializer) and the answer's are sent as they are."""
    answer = response.SerializeToString()

    def predict(request: bytes, context: grpc.ServicerContext) -> bytes:
        return answer

    server = grpc.server(
        ThreadPoolExecutor(max_workers=HANDLER_THREADS, thread_name_prefix="grpc"),
        options=[
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
        ],
    )
    handlers = {"Predict": grpc.unary_unary_rpc_method_handler(predict)}
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, handlers),))
    if not server.add_insecure_port(f"{defaults.HOST}:{port}"):
        raise SystemExit(f"cannot bind {defaults.HOST}:{port}")
    server.start()
    return server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument(
        "--response", type=Path, required=True, help="a serialized PredictResponse to answer"
    )
    args = parser.parse_args()
    response = predict_pb2.PredictResponse.FromString(args.response.read_bytes())
    stopping = threading.Event()
    for stop_signal in (signal.SIGTERM, signal.SIGINT):
        signal.signal(stop_signal, lambda *_: stopping.set())
    server = canned_predict_server(args.port, response)
    print(f"answering Predict on {defaults.HOST}:{args.port}", flush=True)
    stopping.wait()
    server.stop(None).wait()


if __name__ == "__main__":
    main()
