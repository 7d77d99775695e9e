"""One-row latency of two SavedModels' graphs, side by side, without any server.

Both versions are loaded in one process the way TensorFlow Serving loads them (TF1 loader,
one Session each, default graph optimisation) and a signature is run on one row,
alternating between them in rounds, so the machine's drift hits both alike. It prints each
round's mean microseconds per call and the median ratio: the model's own cost, which
`benchmarks/model_server.py` measures with gRPC, threads and the wire around it.

    .venv/bin/python -P benchmarks/graph_latency.py --saved-model NEW --baseline OLD
"""

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
import tensorflow as tf

from covertype.defaults import MATRIX_INPUT, MATRIX_SIGNATURE
from covertype.schema import FEATURE_COLUMNS


class GraphRunner:
    """A SavedModel loaded in its own TF1 Session, ready to run one signature."""

    def __init__(self, path: Path, signature: str) -> None:
        graph = tf.Graph()
        self._session = tf.compat.v1.Session(graph=graph)
        with graph.as_default():
            meta_graph = tf.compat.v1.saved_model.loader.load(self._session, ["serve"], str(path))
        definition = meta_graph.signature_def[signature]
        self.operations = len(graph.get_operations())
        self._inputs = {name: tensor.name for name, tensor in definition.inputs.items()}
        self._fetches = [tensor.name for tensor in definition.outputs.values()]

    def run(self, row: np.ndarray) -> None:
        """One call on a `[1, 54]` row (split into named inputs when the signature has them)."""
        if MATRIX_INPUT in self._inputs:
            feed = {self._inputs[MATRIX_INPUT]: row}
        else:
            columns = {name: row[:, i] for i, name in enumerate(FEATURE_COLUMNS)}
            feed = {tensor: columns[name] for name, tensor in self._inputs.items()}
        self._session.run(self._fetches, feed)

    def mean_microseconds(self, row: np.ndarray, calls: int) -> float:
        """Mean wall time of `calls` calls, in microseconds."""
        started = time.perf_counter()
        for _ in range(calls):
            self.run(row)
        return (time.perf_counter() - started) / calls * 1e6


def main() -> None:
    """Compare `--saved-model` with `--baseline` and print the rounds and the median ratio."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--saved-model", type=Path, required=True, help="the new version folder")
    parser.add_argument("--baseline", type=Path, required=True, help="the version to compare with")
    parser.add_argument("--signature", default=MATRIX_SIGNATURE)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--calls", type=int, default=200, help="calls per model per round")
    args = parser.parse_args()

    runners = {
        "new": GraphRunner(args.saved_model, args.signature),
        "old": GraphRunner(args.baseline, args.signature),
    }
    row = np.random.default_rng(0).uniform(0.0, 1.0, (1, len(FEATURE_COLUMNS)))
    row = row.astype(np.float32)
    for name, runner in runners.items():
        print(f"{name}: {runner.operations} graph operations")
        runner.mean_microseconds(row, args.calls)  # warm up
    ratios = []
    print("round  new us/call  old us/call  new/old")
    for number in range(1, args.rounds + 1):
        new = runners["new"].mean_microseconds(row, args.calls)
        old = runners["old"].mean_microseconds(row, args.calls)
        ratios.append(new / old)
        print(f"{number:>5}  {new:>11.0f}  {old:>11.0f}  {new / old:>7.3f}")
    print(
        f"{args.signature}: one-row Session run, median new/old over {args.rounds} rounds "
        f"{statistics.median(ratios):.3f} (rounds {min(ratios):.3f}-{max(ratios):.3f})"
    )


if __name__ == "__main__":
    main()
