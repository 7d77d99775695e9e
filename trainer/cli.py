"""`covertype train`: a thin shell over `trainer.api.train_and_publish`.

No TensorFlow at import time: the handler imports the trainer library when it runs.
"""

import argparse
import dataclasses
import sys
from pathlib import Path

from covertype.arguments import add_compute_dtype_argument
from covertype.defaults import ASSETS_EXTRA, DATA_ENV, METRICS_FILE, MODEL_NAME, MODELS_DIR
from covertype.tensorflow_logs import import_tensorflow
from trainer.options import DEFAULT_CV_FOLDS, DEFAULT_EPOCHS

EXIT_DATA_NOT_FOUND = 1
EXIT_INVALID_DATA = 2
_REPORT_LIMIT = 50


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `train` subcommand."""
    parser = subparsers.add_parser(
        "train",
        help="validate data, train, evaluate and publish the next model version",
        description=(
            "Validate the data, train the Keras model, evaluate it on a stratified 20% test "
            "split and publish it atomically as <models-dir>/<model-name>/<N>/, N being one "
            "more than the highest existing version."
        ),
        epilog=(
            f"Data is taken from --data, else ${DATA_ENV}, else data/train.csv, else "
            "scikit-learn's fetch_covtype download (see data/README.md). Exit codes: 0 "
            f"published; {EXIT_DATA_NOT_FOUND} no data found (or another failure); "
            f"{EXIT_INVALID_DATA} invalid data or arguments, nothing published."
        ),
    )
    parser.add_argument(
        "--data",
        metavar="PATH",
        help="Kaggle CSV or UCI covtype.data, or a registry data URI (s3://...)",
    )
    parser.add_argument(
        "--models-dir", type=Path, default=MODELS_DIR, help="model base path (default: %(default)s)"
    )
    parser.add_argument(
        "--registry",
        metavar="URI",
        help="publish into this registry (a folder or s3://BUCKET[/PREFIX]) instead of "
        "--models-dir; S3 credentials come from the AWS_* environment variables",
    )
    parser.add_argument("--model-name", default=MODEL_NAME, help="default: %(default)s")
    parser.add_argument(
        "--epochs",
        type=_positive_int,
        default=DEFAULT_EPOCHS,
        help="epochs to train; the learning rate decays to 0 over them (default: %(default)s)",
    )
    parser.add_argument("--seed", type=int, default=0, help="default: %(default)s")
    parser.add_argument(
        "--sample", type=_positive_int, metavar="N", help="train on a stratified sample of N rows"
    )
    parser.add_argument(
        "--cv",
        type=_at_least_two,
        nargs="?",
        const=DEFAULT_CV_FOLDS,
        metavar="FOLDS",
        help="first cross-validate the network on FOLDS stratified folds of the rows used "
        f"(default {DEFAULT_CV_FOLDS}; FOLDS more trainings) and record the figures in the "
        "model card",
    )
    add_compute_dtype_argument(parser, "the network")
    parser.add_argument("--quiet", action="store_true", help="print only the final summary")
    parser.set_defaults(handler=run_train)


def run_train(args: argparse.Namespace) -> int:
    """Train and publish; print what was published. Returns the exit code."""
    from registry.errors import RegistryError

    import_tensorflow()
    from trainer.api import DEFAULT_HYPERPARAMETERS, TrainOptions, train_and_publish
    from trainer.data import DataNotFoundError
    from trainer.problems import DataValidationError

    options = TrainOptions(
        data=args.data,
        epochs=args.epochs,
        seed=args.seed,
        sample=args.sample,
        quiet=args.quiet,
        cv_folds=args.cv,
    )
    try:
        hyper = dataclasses.replace(DEFAULT_HYPERPARAMETERS, compute_dtype=args.compute_dtype)
        registry = args.registry or args.models_dir
        published = train_and_publish(options, registry, args.model_name, hyper)
    except DataValidationError as error:
        print(error.report(limit=_REPORT_LIMIT), file=sys.stderr)
        print("Nothing was published.", file=sys.stderr)
        return EXIT_INVALID_DATA
    except DataNotFoundError as error:
        print(error, file=sys.stderr)
        return EXIT_DATA_NOT_FOUND
    except RegistryError as error:
        print(f"covertype train: {error}", file=sys.stderr)
        return EXIT_DATA_NOT_FOUND
    card = published.metrics
    recall = "  ".join(f"{c}:{r:.3f}" for c, r in card["per_class_recall"].items())
    cv = card["cross_validation"]
    cv_line = (
        f"  cross-validated accuracy {cv['accuracy']['mean']:.4f} +- {cv['accuracy']['std']:.4f}"
        f"  macro F1 {cv['macro_f1']['mean']:.4f} +- {cv['macro_f1']['std']:.4f}"
        f"  ({cv['folds']} folds)\n"
        if cv
        else ""
    )
    print(
        f"Published {args.model_name} version {published.version} at "
        f"{published.path or published.registry}\n"
        f"  test accuracy {card['accuracy']:.4f}  macro F1 {card['macro_f1']:.4f}"
        f"  ({card['evaluated_on']})\n"
        f"{cv_line}"
        f"  recall per class  {recall}\n"
        f"  rows used {card['rows']:,} of {card['rows_available']:,}"
        f"  epochs {card['epochs_run']}"
        f"  training {card['training_seconds']:.1f}s\n"
        f"  data {card['data_uri']}  fingerprint {card['data_fingerprint']}"
    )
    if published.path is not None:
        print(f"  model card {published.path / ASSETS_EXTRA / METRICS_FILE} (and plots beside it)")
    return 0


def _at_least_two(text: str) -> int:
    value = int(text)
    if value < 2:
        raise argparse.ArgumentTypeError(f"must be an integer of at least 2, got {text}")
    return value


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value
