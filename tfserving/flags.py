"""The flags of `covertype serve`: tensorflow_model_server's own, parsed by its rules.

`tensorflow_model_server` reads its flags with TensorFlow's command-line flag
parser (tsl/util/command_line_flags.cc), and so does this module:

- a value is given only as `--name=value`; `--name value` does not read the value
  (the real binary then reports `unknown argument: --name` and `value`);
- a boolean is `--name` (true) or `--name=true|false|1|0` (true/false in any case);
- an int32/int64 is an optional sign and digits, nothing after; a float is a C float;
- the last occurrence of a flag wins; `--help` prints the usage.

Where the real binary prints "unknown argument" and starts anyway with what it
understood (so `--port 9000` serves on 8500), `covertype serve` stops with exit
status 2: a command line it accepts means the same to both backends.

Every TF Serving flag defaults to "not given" here, so `tfserving_argv()` forwards
only what the user set and the real binary applies its own defaults; `resolve()`
applies the same defaults for the local server. Each flag says how the local
server supports it: implemented, accepted and ignored (it only tunes TF Serving's
C++ runtime), or refused (the local server exits with an error naming it).

`covertype serve` adds two flags of its own, in either `--name=value` or
`--name value` form: `--backend` and `--bind_address`.
"""

import argparse
import enum
import math
import os
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NoReturn

from covertype import defaults

BACKENDS = ("auto", "local", "tfserving")
LAUNCHER_FLAGS = ("backend", "bind_address")
_CPUS = os.cpu_count() or 1
_INT32 = (-(2**31), 2**31 - 1)
_INT64 = (-(2**63), 2**63 - 1)
_INTEGER = re.compile(r"\s*[+-]?\d+")
_FLOAT = re.compile(
    r"\s*[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|inf(?:inity)?|nan)", re.IGNORECASE
)


class Kind(enum.Enum):
    """The flag types of TF's parser, named as its usage text names them."""

    INT32 = "int32"
    INT64 = "int64"
    FLOAT = "float"
    BOOL = "bool"
    STRING = "string"


class Support(enum.Enum):
    """How the local server treats a TF Serving flag."""

    IMPLEMENTED = "implemented"
    IGNORED = "ignored"
    REFUSED = "refused"


@dataclass(frozen=True)
class TFServingFlag:
    """One `tensorflow_model_server` flag: type, TF Serving's default, local support."""

    name: str
    kind: Kind
    default: Any
    help: str
    support: Support = Support.IMPLEMENTED
    note: str = ""


_RUNTIME = "only tunes TF Serving's C++ runtime"


def _ignored(name: str, kind: Kind, default: Any, help: str, note: str = _RUNTIME) -> TFServingFlag:
    return TFServingFlag(name, kind, default, help, Support.IGNORED, note)


def _refused(name: str, kind: Kind, default: Any, help: str, note: str) -> TFServingFlag:
    return TFServingFlag(name, kind, default, help, Support.REFUSED, note)


# Names, types, defaults and order of tensorflow_serving/model_servers/main.cc (and the
# defaults of server.h) in the release compose.yaml pins.
TF_SERVING_FLAGS: tuple[TFServingFlag, ...] = (
    TFServingFlag(
        "port",
        Kind.INT32,
        8500,
        "TCP port for the gRPC API; 0 opens none (then --grpc_socket_path is required).",
    ),
    TFServingFlag("grpc_socket_path", Kind.STRING, "", "UNIX socket for the gRPC API."),
    TFServingFlag("rest_api_port", Kind.INT32, 0, "TCP port for the HTTP/REST API; 0 opens none."),
    TFServingFlag("rest_api_num_threads", Kind.INT32, 4 * _CPUS, "Threads for HTTP/REST requests."),
    TFServingFlag(
        "rest_api_timeout_in_ms",
        Kind.INT32,
        30000,
        "Time limit of an HTTP/REST predict/classify/regress run (DEADLINE_EXCEEDED past it).",
    ),
    TFServingFlag(
        "rest_api_enable_cors_support", Kind.BOOL, False, "Add CORS headers to REST responses."
    ),
    TFServingFlag("enable_batching", Kind.BOOL, False, "Merge concurrent requests into batches."),
    TFServingFlag(
        "allow_version_labels_for_unavailable_models",
        Kind.BOOL,
        False,
        "Allow a new version label to name a version that is not AVAILABLE yet.",
    ),
    TFServingFlag(
        "batching_parameters_file",
        Kind.STRING,
        "",
        "Text-format BatchingParameters to use instead of the defaults.",
    ),
    TFServingFlag(
        "enable_per_model_batching_parameters",
        Kind.BOOL,
        False,
        "With --enable_batching: batch a version only if its folder has batching_params.pbtxt, "
        "with those parameters.",
    ),
    TFServingFlag(
        "model_config_file",
        Kind.STRING,
        "",
        "Text-format ModelServerConfig with the models to serve (then --model_name and "
        "--model_base_path are ignored).",
    ),
    TFServingFlag(
        "model_config_file_poll_wait_seconds",
        Kind.INT32,
        0,
        "Seconds between re-reads of --model_config_file; 0 reads it once.",
    ),
    TFServingFlag("model_name", Kind.STRING, "default", "Name of the model."),
    TFServingFlag(
        "model_base_path",
        Kind.STRING,
        "",
        "Absolute path of the model's base directory, one folder per version.",
    ),
    _ignored("num_load_threads", Kind.INT32, 0, "Threads that load servables."),
    _ignored("num_unload_threads", Kind.INT32, 0, "Threads that unload servables."),
    TFServingFlag(
        "max_num_load_retries",
        Kind.INT32,
        5,
        "Times a failed load is retried before the version is given up (END).",
    ),
    TFServingFlag(
        "load_retry_interval_micros",
        Kind.INT64,
        60_000_000,
        "Microseconds between load retries.",
    ),
    TFServingFlag(
        "file_system_poll_wait_seconds",
        Kind.INT32,
        1,
        "Seconds between polls of the base paths for new versions; 0 polls once.",
    ),
    _ignored("flush_filesystem_caches", Kind.BOOL, True, "Flush file system caches after loads."),
    TFServingFlag(
        "tensorflow_session_parallelism",
        Kind.INT64,
        0,
        "Threads of each Session (intra- and inter-op) when neither of the next two is set.",
    ),
    TFServingFlag(
        "tensorflow_session_config_file",
        Kind.STRING,
        "",
        "Text-format TensorFlow ConfigProto for each Session (threads come from the flags).",
    ),
    TFServingFlag(
        "tensorflow_intra_op_parallelism",
        Kind.INT64,
        0,
        "Threads to run one op; 0 auto-configures (the local server: 1).",
    ),
    TFServingFlag(
        "tensorflow_inter_op_parallelism",
        Kind.INT64,
        0,
        "Ops run at once; 0 auto-configures (the local server: 1).",
    ),
    TFServingFlag("use_alts_credentials", Kind.BOOL, False, "Secure the gRPC API with ALTS."),
    TFServingFlag(
        "ssl_config_file", Kind.STRING, "", "Text-format SSLConfig: serve gRPC over TLS."
    ),
    _refused(
        "platform_config_file",
        Kind.STRING,
        "",
        "Text-format PlatformConfigMap replacing the TensorFlow platform config.",
        "its SavedModelBundleSourceAdapterConfig protos are not in tensorflow-serving-api",
    ),
    TFServingFlag(
        "per_process_gpu_memory_fraction",
        Kind.FLOAT,
        0.0,
        "Fraction of GPU memory each Session may take; 0 lets TensorFlow choose.",
    ),
    TFServingFlag(
        "saved_model_tags",
        Kind.STRING,
        "serve",
        "Comma-separated tags of the MetaGraphDef to load.",
    ),
    TFServingFlag(
        "grpc_channel_arguments",
        Kind.STRING,
        "",
        "Comma-separated gRPC server channel arguments (e.g. grpc.max_connection_age_ms=2000).",
    ),
    TFServingFlag("grpc_max_threads", Kind.INT32, 4 * _CPUS, "Threads handling gRPC calls."),
    TFServingFlag(
        "enable_model_warmup",
        Kind.BOOL,
        True,
        "Replay assets.extra/tf_serving_warmup_requests before a version takes traffic.",
    ),
    TFServingFlag(
        "num_request_iterations_for_warmup",
        Kind.INT32,
        0,
        "Times each warmup request is replayed; used only if > 0.",
    ),
    TFServingFlag("version", Kind.BOOL, False, "Print the version and exit."),
    TFServingFlag(
        "monitoring_config_file",
        Kind.STRING,
        "",
        "Text-format MonitoringConfig (Prometheus metrics on the REST port).",
    ),
    _ignored(
        "remove_unused_fields_from_bundle_metagraph",
        Kind.BOOL,
        True,
        "Drop unused MetaGraphDef fields to save memory.",
    ),
    _refused(
        "prefer_tflite_model",
        Kind.BOOL,
        False,
        "Serve model.tflite instead of saved_model.pb when present.",
        "the local server has no TF Lite runtime (=false is accepted)",
    ),
    _ignored(
        "num_tflite_pools",
        Kind.INT32,
        _CPUS,
        "TF Lite interpreter pools.",
        "only tunes TF Lite sessions (--prefer_tflite_model)",
    ),
    _ignored(
        "num_tflite_interpreters_per_pool",
        Kind.INT32,
        1,
        "TF Lite interpreters per pool.",
        "only tunes TF Lite sessions (--prefer_tflite_model)",
    ),
    TFServingFlag(
        "enable_signature_method_name_check",
        Kind.BOOL,
        False,
        "Classify/Regress/MultiInference need signatures with the matching method_name.",
    ),
    _ignored(
        "xla_cpu_compilation_enabled",
        Kind.BOOL,
        False,
        "Enable XLA:CPU JIT.",
        "TensorFlow's Python runtime always allows XLA, as if this flag were true",
    ),
    _ignored(
        "xla_gpu_compilation_enabled",
        Kind.BOOL,
        False,
        "Enable XLA:CPU and XLA:GPU JIT.",
        "TensorFlow's Python runtime always allows XLA, as if this flag were true",
    ),
    _ignored(
        "enable_profiler",
        Kind.BOOL,
        True,
        "Serve tensorflow.ProfilerService on the gRPC port.",
        "the local server has no profiler service, whatever the value",
    ),
    _ignored(
        "thread_pool_factory_config_file",
        Kind.STRING,
        "",
        "Text-format ThreadPoolConfig for request thread pools.",
    ),
    TFServingFlag(
        "mixed_precision",
        Kind.STRING,
        "",
        "bfloat16: run Sessions with bfloat16 auto mixed precision.",
    ),
    _ignored(
        "skip_initialize_tpu",
        Kind.BOOL,
        False,
        "Skip initializing the TPU system.",
        "only read by TPU builds of TF Serving",
    ),
    TFServingFlag(
        "enable_grpc_healthcheck_service",
        Kind.BOOL,
        False,
        "Serve the standard gRPC health service (grpc.health.v1.Health).",
    ),
    TFServingFlag(
        "enable_serialization_as_tensor_content",
        Kind.BOOL,
        False,
        "Write Predict outputs in tensor_content instead of the typed *_val fields.",
    ),
)
FLAGS_BY_NAME = {flag.name: flag for flag in TF_SERVING_FLAGS}


@dataclass(frozen=True)
class ServerOptions:
    """Everything the local server needs, with TF Serving's defaults applied."""

    port: int
    grpc_socket_path: str
    rest_api_port: int
    rest_api_num_threads: int
    rest_api_timeout_in_ms: int
    rest_api_enable_cors_support: bool
    model_name: str
    model_base_path: str
    model_config_file: str
    model_config_file_poll_wait_seconds: int
    file_system_poll_wait_seconds: int
    enable_batching: bool
    batching_parameters_file: str
    enable_per_model_batching_parameters: bool
    monitoring_config_file: str
    enable_model_warmup: bool
    num_request_iterations_for_warmup: int
    max_num_load_retries: int
    load_retry_interval_micros: int
    grpc_max_threads: int
    grpc_channel_arguments: str
    use_alts_credentials: bool
    ssl_config_file: str
    allow_version_labels_for_unavailable_models: bool
    tensorflow_session_parallelism: int
    tensorflow_session_config_file: str
    tensorflow_intra_op_parallelism: int
    tensorflow_inter_op_parallelism: int
    per_process_gpu_memory_fraction: float
    saved_model_tags: str
    mixed_precision: str
    enable_signature_method_name_check: bool
    enable_grpc_healthcheck_service: bool
    enable_serialization_as_tensor_content: bool
    bind_address: str = defaults.HOST


class FlagError(ValueError):
    """A command line `covertype serve` does not accept; the message says why."""


class HelpRequested(Exception):
    """`--help` was given."""


def parse_tf_flag(token: str) -> tuple[str, Any] | None:
    """One argument by TF's rules: (name, value); None if it names no flag (unknown).

    Raises FlagError for a known flag with a value its type does not accept.
    """
    if not token.startswith("--"):
        return None
    name, equals, text = token[2:].partition("=")
    flag = FLAGS_BY_NAME.get(name)
    if flag is None:
        return None
    if flag.kind is Kind.BOOL:
        if not equals:
            return name, True
        lowered = text.lower()
        if lowered in ("true", "1"):
            return name, True
        if lowered in ("false", "0"):
            return name, False
        raise FlagError(f"Couldn't interpret value {text} for flag {name}.")
    if not equals:
        return None
    if flag.kind is Kind.STRING:
        return name, text
    if flag.kind is Kind.FLOAT:
        if not _FLOAT.fullmatch(text):
            raise FlagError(f"Couldn't interpret value {text} for flag {name}.")
        return name, float(text)
    low, high = _INT32 if flag.kind is Kind.INT32 else _INT64
    if not _INTEGER.fullmatch(text) or not low <= int(text) <= high:
        raise FlagError(f"Couldn't interpret value {text} for flag {name}.")
    return name, int(text)


def parse_serve_args(argv: Sequence[str]) -> argparse.Namespace:
    """`covertype serve`'s arguments as a namespace: every flag's value, None if not given.

    FlagError for an argument tensorflow_model_server would not read (with why);
    HelpRequested for --help.
    """
    values: dict[str, Any] = dict.fromkeys((*LAUNCHER_FLAGS, *FLAGS_BY_NAME))
    values["backend"] = "auto"
    tokens = list(argv)
    index = 0
    while index < len(tokens):
        token = tokens[index]
        index += 1
        if token in ("--help", "-h"):
            raise HelpRequested
        launcher = token[2:].partition("=")[0] if token.startswith("--") else ""
        if launcher in LAUNCHER_FLAGS:
            if "=" in token:
                value = token.partition("=")[2]
            elif index < len(tokens):
                value, index = tokens[index], index + 1
            else:
                raise FlagError(f"--{launcher} needs a value")
            if launcher == "backend" and value not in BACKENDS:
                raise FlagError(f"--backend must be one of {', '.join(BACKENDS)}, got {value!r}")
            values[launcher] = value
            continue
        parsed = parse_tf_flag(token)
        if parsed is None:
            raise FlagError(_unknown(token))
        values[parsed[0]] = parsed[1]
    return argparse.Namespace(**values)


def _unknown(token: str) -> str:
    message = f"unknown argument: {token}"
    flag = FLAGS_BY_NAME.get(token[2:]) if token.startswith("--") else None
    if flag is not None:
        message += (
            f" (tensorflow_model_server reads only --{flag.name}=VALUE; a value in the next "
            "argument is not read)"
        )
    elif token.startswith("-") and not token.startswith("--"):
        message += " (flags start with --)"
    return message


class ServeFlagParser:
    """`covertype serve`'s parser, with argparse's interface (parse_args, format_help)."""

    def __init__(self, prog: str = "covertype serve") -> None:
        self.prog = prog

    def parse_args(self, argv: Sequence[str] | None = None) -> argparse.Namespace:
        """Parse, or print the problem (or the help) and exit like argparse (2, or 0)."""
        try:
            return parse_serve_args(sys.argv[1:] if argv is None else argv)
        except HelpRequested:
            print(self.format_help())
            sys.exit(0)
        except FlagError as error:
            self.error(str(error))

    def error(self, message: str) -> NoReturn:
        """Print the usage line and `message` to stderr; exit 2."""
        print(f"{self.format_usage()}{self.prog}: error: {message}", file=sys.stderr)
        sys.exit(2)

    def format_usage(self) -> str:
        """The one-line usage."""
        return (
            f"usage: {self.prog} [--backend=auto|local|tfserving] [--bind_address=HOST] "
            "[--tf_serving_flag=VALUE ...]\n"
        )

    def format_help(self) -> str:
        """Usage, then every flag as TF's usage lists it, with the local server's support."""
        lines = [
            self.format_usage(),
            "Serve models like tensorflow_model_server, with its flags: runs the binary when it "
            "is on PATH (--backend=auto), else the local Python server, which binds "
            f"{defaults.HOST} unless --bind_address says otherwise.",
            "",
            "covertype serve's own flags (--name=value or --name value):",
            "\t--backend=auto                   \tauto: tensorflow_model_server if on PATH, "
            "else local; local / tfserving force one.",
            f"\t--bind_address={defaults.HOST:<18}\tAddress the local server's TCP ports bind to "
            "(not forwarded: tensorflow_model_server binds all interfaces).",
            "",
            "TensorFlow Serving flags (--name=value; a boolean also as --name), with TF Serving's "
            "defaults:",
        ]
        for flag in TF_SERVING_FLAGS:
            shown = f"--{flag.name}={_show_default(flag)}"
            text = f"\t{shown:<33}\t{flag.kind.value}\t{flag.help}"
            if flag.support is Support.IGNORED:
                text += f" [local server: accepted, ignored: {flag.note}]"
            elif flag.support is Support.REFUSED:
                text += f" [local server: refused: {flag.note}]"
            lines.append(text)
        return "\n".join(lines)


def build_parser(prog: str = "covertype serve") -> ServeFlagParser:
    """A standalone parser for `covertype serve`'s flags (e.g. to check a compose command)."""
    return ServeFlagParser(prog)


def given_tf_flags(args: argparse.Namespace) -> dict[str, Any]:
    """The TF Serving flags set on the command line, by name, in TF Serving's order."""
    return {
        flag.name: getattr(args, flag.name)
        for flag in TF_SERVING_FLAGS
        if getattr(args, flag.name, None) is not None
    }


def tfserving_argv(args: argparse.Namespace) -> list[str]:
    """The given TF Serving flags as `tensorflow_model_server` arguments (`--name=value`)."""
    argv = []
    for name, value in given_tf_flags(args).items():
        if isinstance(value, bool):
            shown = "true" if value else "false"
        elif isinstance(value, float):
            shown = repr(value) if math.isfinite(value) else str(value)
        else:
            shown = str(value)
        argv.append(f"--{name}={shown}")
    return argv


def unsupported_by_local(args: argparse.Namespace) -> list[str]:
    """The given TF Serving flags the local server refuses (a false boolean is accepted)."""
    return [
        name
        for name, value in given_tf_flags(args).items()
        if FLAGS_BY_NAME[name].support is Support.REFUSED and value is not False and value != ""
    ]


def ignored_by_local(args: argparse.Namespace) -> list[str]:
    """The given TF Serving flags the local server accepts and ignores."""
    return [name for name in given_tf_flags(args) if FLAGS_BY_NAME[name].support is Support.IGNORED]


def resolve(args: argparse.Namespace) -> ServerOptions:
    """ServerOptions from parsed flags, with TF Serving's defaults for flags not given."""
    values = {flag.name: flag.default for flag in TF_SERVING_FLAGS}
    values.update(given_tf_flags(args))
    fields = {name for name in ServerOptions.__dataclass_fields__ if name != "bind_address"}
    return ServerOptions(
        **{name: values[name] for name in fields},
        bind_address=args.bind_address or defaults.HOST,
    )


def _show_default(flag: TFServingFlag) -> str:
    if flag.kind is Kind.BOOL:
        return "true" if flag.default else "false"
    if flag.kind is Kind.STRING:
        return f'"{flag.default}"'
    if flag.kind is Kind.FLOAT:
        return f"{flag.default:f}"
    return str(flag.default)
