"""Model quality by stratified k-fold cross-validation: the network next to tree ensembles.

    .venv/bin/python -P benchmarks/model_quality.py [--data ../shared/data/train.csv]
        [--folds 5] [--seed 0] [--epochs N] [--trees 500] [--sample N]
        [--models network,extra_trees,random_forest] [--set NAME=VALUE ...] [--output report.json]

On the same folds (scikit-learn's `StratifiedKFold`, shuffled with `--seed`), fits and
scores:

- `network`: the trainer's network exactly as `covertype train` builds and trains it (its
  default hyperparameters, or those changed with `--set`, e.g. `--set members=3`);
- `extra_trees` and `random_forest`: scikit-learn's ExtraTrees and RandomForest with
  `--trees` trees, on the network's engineered features
  (`trainer.features.engineered_table`).

Every model is fitted on the same rows of each fold (the other folds) and scored on the
same held-out rows.

Prints one line per fold as it finishes, then each model's mean and standard deviation of
accuracy and macro F1, and optionally writes everything as JSON (`--output`). The sealed
holdout is never read: only the file given by `--data`.
"""

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "train.csv"
MODELS = ("network", "extra_trees", "random_forest")


def tree_fit_predict(kind: str, trees: int, seed: int) -> Callable[..., np.ndarray]:
    """A FitPredict for a scikit-learn tree ensemble on the engineered features."""
    from sklearn.ensemble import ExtraTreesClassifier, RandomForestClassifier

    from trainer.features import engineered_table

    forest = {"extra_trees": ExtraTreesClassifier, "random_forest": RandomForestClassifier}[kind]

    def fit_predict(fit: Any, test: Any) -> np.ndarray:
        model = forest(n_estimators=trees, n_jobs=-1, random_state=seed)
        model.fit(engineered_table(fit.features), fit.labels)
        return model.predict(engineered_table(test.features))

    return fit_predict


def hyperparameters(assignments: list[str]) -> Any:
    """The trainer's default Hyperparameters with `NAME=VALUE` changes (tuples: `512,256`)."""
    from trainer.api import DEFAULT_HYPERPARAMETERS

    defaults = DEFAULT_HYPERPARAMETERS
    changes: dict[str, Any] = {}
    for assignment in assignments:
        name, _, text = assignment.partition("=")
        if name not in {field.name for field in dataclasses.fields(defaults)}:
            raise SystemExit(f"--set {assignment}: no hyperparameter named {name!r}")
        current = getattr(defaults, name)
        if isinstance(current, tuple):
            changes[name] = tuple(int(part) for part in text.split(",") if part)
        else:
            changes[name] = type(current)(text)
    return dataclasses.replace(defaults, **changes)


def git_state() -> str:
    """`<commit>` or `<commit>+changes`, for the report."""
    commit = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    return f"{commit}+changes" if dirty else commit


def main() -> int:
    """Parse the options, cross-validate every model on the same folds, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="default: %(default)s")
    parser.add_argument("--folds", type=int, default=5, help="default: %(default)s")
    parser.add_argument("--seed", type=int, default=0, help="folds and models (default: 0)")
    parser.add_argument("--epochs", type=int, help="network's epoch budget (default: trainer's)")
    parser.add_argument("--trees", type=int, default=500, help="default: %(default)s")
    parser.add_argument("--sample", type=int, help="use a stratified sample of N rows")
    parser.add_argument(
        "--models", default=",".join(MODELS), help="comma-separated subset of " + ", ".join(MODELS)
    )
    parser.add_argument(
        "--set", dest="changes", action="append", default=[], metavar="NAME=VALUE",
        help="change one of the network's hyperparameters (repeatable)",
    )  # fmt: skip
    parser.add_argument("--output", type=Path, help="write the figures as JSON here")
    parser.add_argument("--verbose", action="store_true", help="print the network's epochs")
    args = parser.parse_args()
    models = [name for name in args.models.split(",") if name]
    if unknown := set(models) - set(MODELS):
        parser.error(f"unknown model(s) {sorted(unknown)}; choose from {', '.join(MODELS)}")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

    from trainer.api import DEFAULT_EPOCHS, load_validated_data
    from trainer.cross_validation import cross_validate, network_fit_predict, stratified_folds
    from trainer.splits import Rows, stratified_sample

    hyper = hyperparameters(args.changes)
    epochs = args.epochs or DEFAULT_EPOCHS
    data = load_validated_data(args.data)
    rows = stratified_sample(Rows(data.features, data.labels), args.sample, args.seed)
    folds = stratified_folds(rows.labels, args.folds, args.seed)
    print(
        f"{rows.rows:,} rows of {data.location.describe()}, {args.folds} stratified folds "
        f"(seed {args.seed}); network: {epochs} epochs, {hyper}",
        flush=True,
    )
    fit_predicts = {
        "network": network_fit_predict(
            epochs, args.seed, hyper, sys.stdout if args.verbose else None
        ),
        "extra_trees": tree_fit_predict("extra_trees", args.trees, args.seed),
        "random_forest": tree_fit_predict("random_forest", args.trees, args.seed),
    }
    results = {}
    for name in models:
        started = time.perf_counter()

        def report(number: int, fold: Any, name: str = name) -> None:
            print(
                f"  {name:<14} fold {number}/{args.folds}: accuracy {fold.accuracy:.4f}  "
                f"macro F1 {fold.macro_f1:.4f}  {fold.seconds:.1f}s",
                flush=True,
            )

        results[name] = cross_validate(rows, fit_predicts[name], folds, on_fold=report)
        print(f"  {name}: {time.perf_counter() - started:.0f}s", flush=True)

    print(f"\n{'model':<14} {'accuracy (mean +- std)':>24} {'macro F1 (mean +- std)':>24}")
    for name, result in results.items():
        print(
            f"{name:<14} {result.mean('accuracy'):>15.4f} +- {result.std('accuracy'):.4f}"
            f" {result.mean('macro_f1'):>15.4f} +- {result.std('macro_f1'):.4f}"
        )
    if args.output:
        report_json = {
            "data": data.location.describe(),
            "data_fingerprint": data.fingerprint(),
            "rows": rows.rows,
            "folds": args.folds,
            "seed": args.seed,
            "epochs": epochs,
            "trees": args.trees,
            "hyperparameters": hyper.as_dict(),
            "git": git_state(),
            "results": {name: result.as_dict() for name, result in results.items()},
        }
        args.output.write_text(json.dumps(report_json, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
