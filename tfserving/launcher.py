"""`covertype serve`: run TensorFlow Serving when it is installed, else the local server.

With `--backend auto` the launcher replaces itself with `tensorflow_model_server`
(found on PATH) and the same TF Serving flags; otherwise, or with `--backend
local`, it runs the compatible Python server in this process.
"""

import argparse
import importlib.metadata
import logging
import os
import shutil
import signal
import sys

from covertype import __version__
from tfserving.flags import resolve, tfserving_argv, unsupported_by_local
from tfserving.logs import configure_logging, log_event

BINARY = "tensorflow_model_server"
logger = logging.getLogger(__name__)


def launch(args: argparse.Namespace) -> int:
    """Run the chosen backend; return the process exit code."""
    binary = shutil.which(BINARY)
    if args.backend == "tfserving" or (args.backend == "auto" and binary):
        if binary is None:
            print(
                f"covertype serve: error: --backend tfserving needs {BINARY} on PATH",
                file=sys.stderr,
            )
            return 2
        return exec_tfserving(binary, args)
    return run_local(args)


def exec_tfserving(binary: str, args: argparse.Namespace) -> int:
    """Replace this process with tensorflow_model_server and the given TF Serving flags."""
    if args.bind_address:
        print(
            "covertype serve: warning: --bind_address is not a TF Serving flag and is not "
            f"forwarded; {BINARY} binds all interfaces",
            file=sys.stderr,
        )
    argv = [binary, *tfserving_argv(args)]
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(binary, argv)
    return 0  # not reached: execv does not return


def run_local(args: argparse.Namespace) -> int:
    """Run the local Python server until SIGTERM or SIGINT."""
    unsupported = unsupported_by_local(args)
    if unsupported:
        flags = ", ".join(f"--{name}" for name in unsupported)
        print(
            f"covertype serve: error: the local server does not implement {flags}; "
            "drop them or run with --backend tfserving",
            file=sys.stderr,
        )
        return 2
    if args.version:
        print(f"TensorFlow ModelServer: {local_version()}")
        print(f"TensorFlow Library: {importlib.metadata.version('tensorflow')}")
        return 0
    # TensorFlow's C++ INFO and WARNING lines are not JSON; errors still show.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    configure_logging()
    from tfserving.model_servers.server import Server, StartupError

    server = Server(resolve(args))
    try:
        server.build_and_start()
    except StartupError as error:
        log_event(logger, "server_start_failed", logging.ERROR, error=str(error))
        server.stop()
        return 1
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: server.stop())
    server.wait_for_termination()
    return 0


def local_version() -> str:
    """The local server's version string."""
    api = importlib.metadata.version("tensorflow-serving-api")
    return f"covertype local server {__version__} (tensorflow-serving-api {api})"
