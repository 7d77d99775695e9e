"""`covertype serve`: TF Serving's flags, run by TensorFlow Serving or the local server.

Imports nothing heavy: TensorFlow is loaded only when the local server starts.
"""

import argparse

from tfserving.flags import add_flags


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `serve` subcommand."""
    parser = subparsers.add_parser(
        "serve",
        help="run the model server (TensorFlow Serving, or the compatible local server)",
        description="Serve models like tensorflow_model_server, with its flags. Runs "
        "tensorflow_model_server when it is on PATH (--backend auto), else the local "
        "Python server, which binds 127.0.0.1 unless --bind_address says otherwise.",
        allow_abbrev=False,
    )
    add_flags(parser)
    parser.set_defaults(handler=_serve)


def _serve(args: argparse.Namespace) -> int:
    from tfserving.launcher import launch

    return launch(args)
