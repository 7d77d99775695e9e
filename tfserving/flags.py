"""The flags of `covertype serve`: TensorFlow Serving's own, with the same names and defaults.

`build_parser()` accepts exactly what `tensorflow_model_server` accepts (plus the
launcher's `--backend` and the local server's `--bind_address`), in either
`--flag=value` or `--flag value` form, booleans as `--flag`, `--flag=true` or
`--flag=false`. Unknown flags are an error. Every TF Serving flag defaults to
"not given" here, so `tfserving_argv()` forwards only what the user set and the
real binary applies its own defaults; `resolve()` applies the same defaults for
the local server. TF Serving flags the local server does not implement are
accepted by the parser (so a compose or Kubernetes command line can be checked
with it) but refused by the local backend, see `unsupported_by_local()`.
"""

import argparse
import os
from dataclasses import dataclass
from typing import Any

from covertype import defaults

BACKENDS = ("auto", "local", "tfserving")
_CPUS = os.cpu_count() or 1


@dataclass(frozen=True)
class TFServingFlag:
    """One `tensorflow_model_server` flag: its type, TF Serving's default, and local support."""

    name: str
    kind: type
    default: Any
    help: str
    local: bool


def _flag(name: str, kind: type, default: Any, help: str, *, local: bool = True) -> TFServingFlag:
    return TFServingFlag(name, kind, default, help, local)


# Names, types and defaults of tensorflow_serving/model_servers/main.cc and server.h.
TF_SERVING_FLAGS: tuple[TFServingFlag, ...] = (
    _flag("port", int, 8500, "TCP port for the gRPC API; 0 disables it."),
    _flag("grpc_socket_path", str, "", "UNIX socket for the gRPC API.", local=False),
    _flag("rest_api_port", int, 0, "TCP port for the HTTP/REST API; 0 disables it."),
    _flag(
        "rest_api_num_threads",
        int,
        4 * _CPUS,
        "Threads for HTTP/REST request processing (default: 4 x CPUs).",
    ),
    _flag("rest_api_timeout_in_ms", int, 30000, "Timeout for HTTP/REST API calls.", local=False),
    _flag(
        "rest_api_enable_cors_support",
        bool,
        False,
        "Enable CORS headers in responses.",
        local=False,
    ),
    _flag("enable_batching", bool, False, "Merge concurrent Predict calls into batches."),
    _flag(
        "allow_version_labels_for_unavailable_models",
        bool,
        False,
        "Allow a new version label to name a version that is not AVAILABLE yet.",
    ),
    _flag(
        "batching_parameters_file",
        str,
        "",
        "Text-format BatchingParameters to use instead of the defaults.",
    ),
    _flag(
        "enable_per_model_batching_parameters",
        bool,
        False,
        "Read batching parameters from each SavedModel.",
        local=False,
    ),
    _flag(
        "model_config_file",
        str,
        "",
        "Text-format ModelServerConfig with the models to serve (overrides "
        "--model_name and --model_base_path).",
    ),
    _flag(
        "model_config_file_poll_wait_seconds",
        int,
        0,
        "Seconds between re-reads of --model_config_file; 0 reads it once.",
    ),
    _flag("model_name", str, "default", "Name of the model (without --model_config_file)."),
    _flag(
        "model_base_path",
        str,
        "",
        "Absolute path of the model's base directory, holding one folder per version.",
    ),
    _flag("num_load_threads", int, 0, "Threads that load servables.", local=False),
    _flag("num_unload_threads", int, 0, "Threads that unload servables.", local=False),
    _flag(
        "max_num_load_retries",
        int,
        5,
        "Times a failed load is retried before the version is given up (END).",
    ),
    _flag(
        "load_retry_interval_micros",
        int,
        60_000_000,
        "Microseconds between load retries (default: 1 minute).",
    ),
    _flag(
        "file_system_poll_wait_seconds",
        int,
        1,
        "Seconds between polls of the base paths for new versions; 0 polls once.",
    ),
    _flag("flush_filesystem_caches", bool, True, "Flush file system caches.", local=False),
    _flag("tensorflow_session_parallelism", int, 0, "Threads per TensorFlow session.", local=False),
    _flag(
        "tensorflow_session_config_file",
        str,
        "",
        "Text-format TensorFlow Session ConfigProto.",
        local=False,
    ),
    _flag(
        "tensorflow_intra_op_parallelism",
        int,
        0,
        "Threads to parallelize one op; 0 auto-configures (the local server: 1).",
    ),
    _flag(
        "tensorflow_inter_op_parallelism",
        int,
        0,
        "Ops that may run at once; 0 auto-configures (the local server: 1).",
    ),
    _flag("use_alts_credentials", bool, False, "Use Google ALTS credentials.", local=False),
    _flag("ssl_config_file", str, "", "Text-format SSLConfig for a secure gRPC API.", local=False),
    _flag("platform_config_file", str, "", "Text-format PlatformConfigMap.", local=False),
    _flag(
        "per_process_gpu_memory_fraction", float, 0.0, "GPU memory fraction to use.", local=False
    ),
    _flag("saved_model_tags", str, "serve", "Tags of the MetaGraphDef to load.", local=False),
    _flag("grpc_channel_arguments", str, "", "gRPC server channel arguments.", local=False),
    _flag(
        "grpc_max_threads",
        int,
        4 * _CPUS,
        "Threads handling gRPC calls (default: 4 x CPUs).",
    ),
    _flag(
        "enable_model_warmup",
        bool,
        True,
        "Replay assets.extra/tf_serving_warmup_requests before a version takes traffic.",
    ),
    _flag(
        "num_request_iterations_for_warmup",
        int,
        0,
        "Times each warmup request is replayed; used only if > 0.",
    ),
    _flag("version", bool, False, "Print the version and exit."),
    _flag(
        "monitoring_config_file",
        str,
        "",
        "Text-format MonitoringConfig (Prometheus metrics on the REST port).",
    ),
    _flag(
        "remove_unused_fields_from_bundle_metagraph",
        bool,
        True,
        "Drop unused MetaGraphDef fields.",
        local=False,
    ),
    _flag("prefer_tflite_model", bool, False, "Prefer model.tflite.", local=False),
    _flag("num_tflite_pools", int, _CPUS, "TF Lite interpreter pools.", local=False),
    _flag(
        "num_tflite_interpreters_per_pool", int, 1, "TF Lite interpreters per pool.", local=False
    ),
    _flag(
        "enable_signature_method_name_check",
        bool,
        False,
        "Check SignatureDef method names.",
        local=False,
    ),
    _flag("xla_cpu_compilation_enabled", bool, False, "Enable XLA:CPU JIT.", local=False),
    _flag("enable_profiler", bool, True, "Enable the profiler service.", local=False),
    _flag(
        "thread_pool_factory_config_file",
        str,
        "",
        "Text-format ThreadPoolConfig.",
        local=False,
    ),
)
_BY_NAME = {flag.name: flag for flag in TF_SERVING_FLAGS}


@dataclass(frozen=True)
class ServerOptions:
    """Everything the local server needs, with TF Serving's defaults applied."""

    port: int
    rest_api_port: int
    rest_api_num_threads: int
    model_name: str
    model_base_path: str
    model_config_file: str
    model_config_file_poll_wait_seconds: int
    file_system_poll_wait_seconds: int
    enable_batching: bool
    batching_parameters_file: str
    monitoring_config_file: str
    enable_model_warmup: bool
    num_request_iterations_for_warmup: int
    max_num_load_retries: int
    load_retry_interval_micros: int
    grpc_max_threads: int
    allow_version_labels_for_unavailable_models: bool
    tensorflow_intra_op_parallelism: int
    tensorflow_inter_op_parallelism: int
    bind_address: str = defaults.HOST


def parse_bool(text: str) -> bool:
    """TF's boolean flag values: true/false or 1/0 (any case)."""
    lowered = text.strip().lower()
    if lowered in ("true", "1"):
        return True
    if lowered in ("false", "0"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def add_flags(parser: argparse.ArgumentParser) -> None:
    """Add every flag of `covertype serve` to `parser`."""
    parser.add_argument(
        "--backend",
        choices=BACKENDS,
        default="auto",
        help="auto (default): run tensorflow_model_server when it is on PATH, else the "
        "local Python server; local / tfserving force one. Not a TF Serving flag.",
    )
    parser.add_argument(
        "--bind_address",
        default=None,
        metavar="HOST",
        help=f"Address the local server binds its ports to (default: {defaults.HOST}). "
        "Not a TF Serving flag: tensorflow_model_server always binds all interfaces, "
        "so with the tfserving backend this flag is not forwarded.",
    )
    tf_group = parser.add_argument_group(
        "TensorFlow Serving flags",
        "Same names and defaults as tensorflow_model_server. Those marked [tfserving "
        "backend only] are refused by the local server.",
    )
    for flag in TF_SERVING_FLAGS:
        text = f"{flag.help} (TF Serving default: {_show_default(flag)})"
        if not flag.local:
            text += " [tfserving backend only]"
        if flag.kind is bool:
            tf_group.add_argument(
                f"--{flag.name}",
                type=parse_bool,
                nargs="?",
                const=True,
                default=None,
                metavar="true|false",
                help=text,
            )
        else:
            tf_group.add_argument(
                f"--{flag.name}",
                type=flag.kind,
                default=None,
                metavar=flag.kind.__name__.upper(),
                help=text,
            )


def build_parser(prog: str = "covertype serve") -> argparse.ArgumentParser:
    """A standalone parser for `covertype serve`'s flags (e.g. to check a compose command)."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Run TensorFlow Serving, or the compatible local Python server.",
        allow_abbrev=False,
    )
    add_flags(parser)
    return parser


def given_tf_flags(args: argparse.Namespace) -> dict[str, Any]:
    """The TF Serving flags set on the command line, by name."""
    return {
        flag.name: getattr(args, flag.name)
        for flag in TF_SERVING_FLAGS
        if getattr(args, flag.name, None) is not None
    }


def tfserving_argv(args: argparse.Namespace) -> list[str]:
    """The given TF Serving flags as `tensorflow_model_server` arguments (`--name=value`)."""
    argv = []
    for name, value in given_tf_flags(args).items():
        shown = ("true" if value else "false") if isinstance(value, bool) else str(value)
        argv.append(f"--{name}={shown}")
    return argv


def unsupported_by_local(args: argparse.Namespace) -> list[str]:
    """The given TF Serving flags that the local server does not implement."""
    return [name for name in given_tf_flags(args) if not _BY_NAME[name].local]


def resolve(args: argparse.Namespace) -> ServerOptions:
    """ServerOptions from parsed flags, with TF Serving's defaults for flags not given."""
    values = {flag.name: flag.default for flag in TF_SERVING_FLAGS}
    values.update(given_tf_flags(args))
    return ServerOptions(
        port=values["port"],
        rest_api_port=values["rest_api_port"],
        rest_api_num_threads=values["rest_api_num_threads"],
        model_name=values["model_name"],
        model_base_path=values["model_base_path"],
        model_config_file=values["model_config_file"],
        model_config_file_poll_wait_seconds=values["model_config_file_poll_wait_seconds"],
        file_system_poll_wait_seconds=values["file_system_poll_wait_seconds"],
        enable_batching=values["enable_batching"],
        batching_parameters_file=values["batching_parameters_file"],
        monitoring_config_file=values["monitoring_config_file"],
        enable_model_warmup=values["enable_model_warmup"],
        num_request_iterations_for_warmup=values["num_request_iterations_for_warmup"],
        max_num_load_retries=values["max_num_load_retries"],
        load_retry_interval_micros=values["load_retry_interval_micros"],
        grpc_max_threads=values["grpc_max_threads"],
        allow_version_labels_for_unavailable_models=values[
            "allow_version_labels_for_unavailable_models"
        ],
        tensorflow_intra_op_parallelism=values["tensorflow_intra_op_parallelism"],
        tensorflow_inter_op_parallelism=values["tensorflow_inter_op_parallelism"],
        bind_address=args.bind_address or defaults.HOST,
    )


def _show_default(flag: TFServingFlag) -> str:
    if flag.name in ("rest_api_num_threads", "grpc_max_threads"):
        return "4 x CPUs"
    if flag.name == "num_tflite_pools":
        return "CPUs"
    if flag.kind is bool:
        return "true" if flag.default else "false"
    return repr(flag.default) if flag.kind is str else str(flag.default)
