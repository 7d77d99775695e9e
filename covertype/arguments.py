"""Command-line arguments that several subcommands share, defined once."""

import argparse

from covertype.defaults import COMPUTE_DTYPES


def add_compute_dtype_argument(parser: argparse._ActionsContainer, trained: str) -> None:
    """Add `--compute-dtype`: what the dense layers of `trained` multiply in while training."""
    parser.add_argument(
        "--compute-dtype",
        choices=COMPUTE_DTYPES,
        default="auto",
        help=f"what the dense layers of {trained} multiply in while training: auto is "
        "bfloat16 on a CPU with native bfloat16 products (AMX, AVX512-BF16), float32 "
        "elsewhere; the exported model computes in float32 either way (default: %(default)s)",
    )
