"""`covertype serve`: TF Serving's flags, run by TensorFlow Serving or the local server.

The flags follow tensorflow_model_server's grammar (`--name=value`), not argparse's,
so the subcommand takes its arguments verbatim (argparse sees no options: its
prefix character is one no flag uses) and `tfserving.flags` parses them.
Imports nothing heavy: TensorFlow is loaded only when the local server starts.
"""

import argparse

from tfserving.flags import ServeFlagParser


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `serve` subcommand."""
    parser = subparsers.add_parser(
        "serve",
        help="run the model server (TensorFlow Serving, or the compatible local server)",
        description="Serve models like tensorflow_model_server, with its flags. "
        "`covertype serve --help` lists them.",
        prefix_chars="+",
        add_help=False,
    )
    parser.add_argument("serve_argv", nargs="*", metavar="--flag=value")
    parser.set_defaults(handler=_serve)


def _serve(args: argparse.Namespace) -> int:
    from tfserving.launcher import launch

    return launch(ServeFlagParser().parse_args(args.serve_argv))
