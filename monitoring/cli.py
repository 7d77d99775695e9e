"""`covertype report`: the command-line shell around `monitoring.report`."""

import argparse
import json
import sys
from pathlib import Path

from covertype.defaults import MODEL_NAME, MODELS_DIR


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `report` subcommand."""
    parser = subparsers.add_parser(
        "report",
        help="summarise prediction logs: traffic, classes, latency, inputs outside training range",
        description=(
            "Summarise prediction logs written by the gateway. Each LOG is read together with "
            "its rotated backups (LOG.1, LOG.2, ...)."
        ),
    )
    parser.add_argument("logs", nargs="+", type=Path, metavar="LOG", help="prediction log file")
    parser.add_argument(
        "--models-dir",
        type=Path,
        default=MODELS_DIR,
        help="where the model cards (training feature ranges) are found (default: %(default)s)",
    )
    parser.add_argument("--model-name", default=MODEL_NAME, help="default: %(default)s")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.set_defaults(handler=run_report)


def run_report(args: argparse.Namespace) -> int:
    """Print the report of `args.logs`; exit 1 when a log cannot be read."""
    from monitoring import report

    files = list(report.with_rotated(args.logs))
    try:
        entries, skipped = report.read_entries(files)
    except report.ReportError as error:
        print(f"covertype report: {error}", file=sys.stderr)
        return 1
    summary = report.summarise(
        entries,
        lambda version: report.model_card_ranges(args.models_dir, args.model_name, version),
        files=files,
        skipped_lines=skipped,
    )
    print(json.dumps(summary.to_dict(), indent=2) if args.json else report.render(summary))
    return 0
