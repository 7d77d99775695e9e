"""The one place that defines the project's default names, ports and paths.

Every component reads its defaults from here; command-line flags and environment
variables override them.
"""

from pathlib import Path

MODEL_NAME = "covertype"

GRPC_PORT = 8500
REST_PORT = 8501
GATEWAY_PORT = 8000
HOST = "127.0.0.1"

MODELS_DIR = Path("models")
DATA_DIR = Path("data")

DEFAULT_SIGNATURE = "serving_default"
MATRIX_SIGNATURE = "predict_matrix"
MATRIX_INPUT = "features"
OUTPUT_COVER_TYPE = "cover_type"
OUTPUT_PROBABILITIES = "probabilities"

ASSETS_EXTRA = "assets.extra"
WARMUP_FILE = "tf_serving_warmup_requests"
METRICS_FILE = "metrics.json"

# Version labels (`stable`, `canary`, ...): what `covertype label` writes and the gateway's
# `?label=` accepts.
LABEL_PATTERN = r"[A-Za-z][A-Za-z0-9_-]*"
MAX_LABEL_LENGTH = 64
# TF Serving's version numbers are int64.
MAX_VERSION = 2**63 - 1

# Versions taken out of service are moved to `<models-dir>/<model>.archive/`, beside the base path.
ARCHIVE_SUFFIX = ".archive"

DATA_ENV = "COVERTYPE_DATA"
TRAIN_CSV = DATA_DIR / "train.csv"

# What a network's dense layers may multiply in while training (trainer.precision resolves "auto")
COMPUTE_DTYPES = ("auto", "float32", "bfloat16")
