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
import threading
from typing import TYPE_CHECKING

from covertype import __version__
from covertype.tensorflow_logs import import_tensorflow
from tfserving.flags import (
    FLAGS_BY_NAME,
    ignored_by_local,
    resolve,
    tfserving_argv,
    unsupported_by_local,
)
from tfserving.logs import configure_logging, log_event

if TYPE_CHECKING:
    from tfserving.model_servers.server import Server

BINARY = "tensorflow_model_server"
STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT}
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
    """Run the local Python server until SIGTERM or SIGINT, then drain it (exit 0)."""
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
    configure_logging()
    ignored = ignored_by_local(args)
    if ignored:
        log_event(
            logger,
            "flags_ignored",
            logging.WARNING,
            flags={name: FLAGS_BY_NAME[name].note for name in ignored},
        )
    # Only the signal thread takes SIGTERM/SIGINT: every thread started from here on
    # inherits this mask (there is no other thread yet).
    signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    # After the mask: TensorFlow starts threads when imported. Its native start-up lines
    # are not JSON logs (--verbose shows them).
    import_tensorflow()
    from tfserving.model_servers.server import Server, StartupError

    server = Server(resolve(args))
    serving = threading.Event()
    threading.Thread(
        target=_take_stop_signals, args=(server, serving), name="signals", daemon=True
    ).start()
    try:
        server.build_and_start()
    except StartupError as error:
        fields = {"detail": error.detail} if error.detail else {}
        log_event(
            logger,
            "server_start_failed",
            logging.ERROR,
            error=f"Failed to start server. Error: {error}",
            **fields,
        )
        server.stop()
        return 1
    serving.set()
    server.wait_for_termination()
    return 0


def _take_stop_signals(server: "Server", serving: threading.Event) -> None:
    """The first SIGTERM/SIGINT drains a serving server; before it serves, or a second
    time, the process exits at once (status 128 + the signal's number)."""
    signum = signal.sigwait(STOP_SIGNALS)
    if serving.is_set():
        log_event(logger, "stop_signal", signal=signal.Signals(signum).name)
        threading.Thread(target=server.drain, name="drain", daemon=True).start()
        signum = signal.sigwait(STOP_SIGNALS)
    log_event(logger, "stop_signal", logging.WARNING, signal=signal.Signals(signum).name, now=True)
    os._exit(128 + signum)


def local_version() -> str:
    """The local server's version string."""
    api = importlib.metadata.version("tensorflow-serving-api")
    return f"covertype local server {__version__} (tensorflow-serving-api {api})"
