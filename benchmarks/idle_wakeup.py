"""What idling between requests costs one request: a one-row run after gaps of rest.

A version is loaded as the model server loads it (tfserving's loader, its default session
config) and its matrix signature is run on one row: back to back, then with the thread
asleep for a gap before each run, in rounds that alternate the gaps. At concurrency 1 a
server sleeps between requests while the client and the other tier work, so the run it
does after waking is what a request pays, not the back-to-back figure of a loop. On a
virtual machine a sleeping vCPU halts, and the run after it starts on cold caches.

    .venv/bin/python -P benchmarks/idle_wakeup.py --saved-model models/covertype/1
"""

import argparse
import statistics
import time
from pathlib import Path

import numpy as np

from covertype.defaults import MATRIX_INPUT, MATRIX_SIGNATURE, MODEL_NAME
from covertype.schema import FEATURE_COLUMNS
from tfserving.core.servable_id import ServableId
from tfserving.servables.saved_model_bundle import load_saved_model_bundle
from tfserving.servables.session_bundle_config import SessionBundleConfig, build_session_config

GAPS_MS = (0.0, 0.3, 1.0, 3.0)


def main() -> None:
    """Print the median one-row run after each gap, per round and over the rounds."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--saved-model", type=Path, required=True, help="a version folder")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--calls", type=int, default=500, help="runs per gap per round")
    args = parser.parse_args()

    bundle = load_saved_model_bundle(
        ServableId(MODEL_NAME, int(args.saved_model.name)),
        args.saved_model,
        SessionBundleConfig(build_session_config()),
    )
    row = np.random.default_rng(0).uniform(0.0, 1.0, (1, len(FEATURE_COLUMNS)))
    inputs = {MATRIX_INPUT: row.astype(np.float32)}
    outputs = list(bundle.signatures[MATRIX_SIGNATURE].output_names)

    def run_after(gap_seconds: float) -> float:
        if gap_seconds:
            time.sleep(gap_seconds)
        started = time.perf_counter()
        bundle.session.run(MATRIX_SIGNATURE, inputs, outputs)
        return (time.perf_counter() - started) * 1e6

    for _ in range(args.calls):
        run_after(0.0)
    medians: dict[float, list[float]] = {gap: [] for gap in GAPS_MS}
    print("round  " + "  ".join(f"{gap:>5.1f} ms gap" for gap in GAPS_MS) + "  (us per run)")
    for number in range(1, args.rounds + 1):
        for gap in GAPS_MS:
            medians[gap].append(statistics.median(run_after(gap / 1000) for _ in range(args.calls)))
        print(f"{number:>5}  " + "  ".join(f"{medians[g][-1]:>12.0f}" for g in GAPS_MS))
    back_to_back = statistics.median(medians[0.0])
    for gap in GAPS_MS:
        median = statistics.median(medians[gap])
        print(
            f"after {gap:.1f} ms asleep: median {median:.0f} us per one-row run, "
            f"{median / back_to_back:.2f}x back to back"
        )


if __name__ == "__main__":
    main()
