"""The `covertype` command: one entry point, a thin subcommand per job.

Each component owns a `cli` module with `register(subparsers)`, which adds its
subcommands and sets `handler(args) -> exit code` on each. Those modules import
heavy libraries (TensorFlow) only inside their handlers, so that the gateway's
commands work in an environment without TensorFlow.
"""

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from covertype import __version__
from covertype.tensorflow_logs import VERBOSE_VARIABLE

COMMAND_MODULES: tuple[str, ...] = (
    "trainer.cli",
    "monitoring.cli",
    "release.cli",
    "registry.cli",
    "gateway.cli",
    "console.cli",
    "tfserving.cli",
    "covertype.demo",
)


def build_parser() -> argparse.ArgumentParser:
    """Build the top-level parser with every available component's subcommands."""
    parser = argparse.ArgumentParser(
        prog="covertype", description="Forest cover type prediction: train, serve, release."
    )
    parser.add_argument("--version", action="version", version=f"covertype {__version__}")
    parser.add_argument(
        "--verbose",
        action="store_true",
        help="show TensorFlow's native start-up logs (hidden by default)",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module_name in COMMAND_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as missing:
            # An image that ships only some components (the gateway image has no
            # trainer/) offers only their commands; any other missing module is a bug.
            if missing.name != module_name.split(".")[0]:
                raise
            continue
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse `argv` and run the chosen subcommand; return its exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.verbose:
        os.environ[VERBOSE_VARIABLE] = "1"  # child processes (the demo's servers) inherit it
    return int(args.handler(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
