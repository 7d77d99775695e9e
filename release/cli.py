"""`covertype release | rollback | label | versions`: shells around the `release` package.

Imports nothing heavy at module level; TensorFlow is loaded inside the handlers.
"""

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from covertype import defaults
from covertype.arguments import add_compute_dtype_argument
from covertype.tensorflow_logs import import_tensorflow

if TYPE_CHECKING:
    from registry.registry import Registry
    from release.serving import ModelServer

T = TypeVar("T")

DEFAULT_TFSERVING = f"{defaults.HOST}:{defaults.GRPC_PORT}"
DEFAULT_GATEWAY = f"http://{defaults.HOST}:{defaults.GATEWAY_PORT}"


def _positive(kind: type[int] | type[float]) -> Callable[[str], int | float]:
    """An argparse type accepting only numbers > 0, with a message naming the rule."""

    def parse(text: str) -> int | float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a {kind.__name__}") from None
        if value <= 0:
            raise argparse.ArgumentTypeError(f"{text!r} must be > 0")
        return value

    return parse


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `release`, `rollback`, `label` and `versions` subcommands."""
    _register_release(subparsers)
    _register_rollback(subparsers)
    _register_label(subparsers)
    _register_versions(subparsers)


def _stack_arguments(parser: argparse.ArgumentParser, *, gateway: bool = False) -> None:
    parser.add_argument(
        "--models-dir",
        type=Path,
        default=defaults.MODELS_DIR,
        help="folder holding the base path <models-dir>/<model> (default: %(default)s)",
    )
    parser.add_argument("--model-name", default=defaults.MODEL_NAME, help="default: %(default)s")
    parser.add_argument(
        "--registry",
        metavar="URI",
        help="act on this registry (a folder or s3://BUCKET[/PREFIX]; credentials from the "
        "AWS_* variables) instead of the base path: every model server's sync applies it",
    )
    parser.add_argument(
        "--tfserving",
        metavar="HOST:PORT",
        help=f"model server gRPC target (default: {DEFAULT_TFSERVING}; with --registry, "
        "rollback and label watch a server only when this is given)",
    )
    parser.add_argument(
        "--model-config-file",
        type=Path,
        help="the model server's models.config, where labels and the version policy are kept "
        "(default: <models-dir>/models.config; created when needed)",
    )
    if gateway:
        parser.add_argument(
            "--gateway", default=DEFAULT_GATEWAY, help="gateway base URL (default: %(default)s)"
        )


def _register_release(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "release",
        help="train a candidate, gate it against the live version, publish, verify, roll back",
        description=(
            "Validate data, train a candidate outside the base path, gate it against the live "
            "version, publish it atomically, verify it through the model server and the gateway, "
            "and roll it back if verification fails. Exit codes: 0 released, 1 failed, "
            "2 invalid data, 3 halted by the gate, 4 verification failed and rolled back."
        ),
    )
    _stack_arguments(parser, gateway=True)
    source = parser.add_argument_group("candidate")
    source.add_argument(
        "--data",
        type=Path,
        help="training data (default: COVERTYPE_DATA, data/train.csv, then the UCI download)",
    )
    source.add_argument(
        "--epochs", type=_positive(int), help="training epochs (default: the trainer's)"
    )
    source.add_argument(
        "--sample", type=_positive(int), help="train on a stratified sample of N rows"
    )
    source.add_argument("--seed", type=int, default=0, help="default: %(default)s")
    add_compute_dtype_argument(source, "the candidate")
    source.add_argument("--quiet", action="store_true", help="no training progress")
    source.add_argument(
        "--candidate",
        type=Path,
        help="release this already-built SavedModel folder instead of training "
        "(the gate evaluates it on --data)",
    )
    limits = parser.add_argument_group("gate")
    limits.add_argument("--force", action="store_true", help="bypass the gate (recorded)")
    limits.add_argument(
        "--min-accuracy",
        type=float,
        default=0.80,
        help="accuracy floor of a first release (default: %(default)s)",
    )
    limits.add_argument(
        "--max-accuracy-drop",
        type=float,
        default=0.01,
        help="largest accuracy drop vs live (default: %(default)s)",
    )
    limits.add_argument(
        "--max-f1-drop",
        type=float,
        default=0.01,
        help="largest macro F1 drop vs live (default: %(default)s)",
    )
    limits.add_argument(
        "--max-latency-ratio",
        type=_positive(float),
        default=1.5,
        help="largest candidate/live p50 Predict latency ratio (default: %(default)s)",
    )
    limits.add_argument(
        "--latency-requests",
        type=_positive(int),
        default=200,
        help="one-row requests timed per model (default: %(default)s)",
    )
    limits.add_argument(
        "--min-eval-rows",
        type=_positive(int),
        default=200,
        help="fewest rows held out by both models for the gate to use them; below that it "
        "uses the candidate's test split (default: %(default)s)",
    )
    parser.add_argument(
        "--verify-timeout",
        type=_positive(float),
        default=60.0,
        help="seconds for the new version to be AVAILABLE and answer (default: %(default)s)",
    )
    parser.add_argument("--reason", default="", help="why this release, for the record")
    parser.set_defaults(handler=run_release)


def _register_rollback(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "rollback",
        help="move the newest version(s) into the archive; the server falls back",
        description=(
            "Take the newest version (or, with --to N, every version newer than N) out of the "
            "base path into <models-dir>/<model>.archive/, after loading the fallback, and wait "
            "until the fallback is live. With --registry, retire them in the registry instead "
            "(nothing is deleted); every model server's sync falls back by itself."
        ),
    )
    _stack_arguments(parser)
    parser.add_argument("--to", type=int, metavar="N", help="fall back to version N")
    parser.add_argument("--reason", default="manual rollback", help="for the record")
    parser.add_argument(
        "--timeout", type=_positive(float), default=60.0, help="default: %(default)s s"
    )
    parser.set_defaults(handler=run_rollback)


def _register_label(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "label",
        help="point a version label (stable, canary, ...) at a version",
        description=(
            "Load version N if it is not loaded, then point LABEL at it in models.config and "
            "apply that with HandleReloadConfigRequest. Requests with ?label=LABEL reach it. "
            "With --registry, record the label in the registry; every sync applies it."
        ),
    )
    parser.add_argument("label", metavar="LABEL", help="e.g. stable or canary")
    parser.add_argument("version", type=int, metavar="N", help="version number")
    _stack_arguments(parser)
    parser.add_argument(
        "--timeout", type=_positive(float), default=60.0, help="default: %(default)s s"
    )
    parser.set_defaults(handler=run_label)


def _register_versions(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "versions",
        help="every version and candidate: state, labels, accuracy, latency, why",
        description="The release history: the record joined with the disk and the server.",
    )
    _stack_arguments(parser)
    parser.set_defaults(handler=run_versions)


def _tfserving(args: argparse.Namespace) -> str:
    return args.tfserving or DEFAULT_TFSERVING


def _open_registry(args: argparse.Namespace, command: str) -> "Registry | None":
    """The registry of `--registry`, checked; None (and a message) when it cannot be used."""
    from registry.errors import RegistryError
    from registry.uri import RegistryURIError, open_registry

    try:
        registry = open_registry(args.registry)
        registry.store.check()
    except (RegistryError, RegistryURIError) as error:
        print(f"covertype {command}: {error}", file=sys.stderr)
        return None
    return registry


def _config_path(args: argparse.Namespace) -> Path:
    return args.model_config_file or args.models_dir / "models.config"


def run_release(args: argparse.Namespace) -> int:
    """Run the pipeline; the exit code says how it ended."""
    import_tensorflow()
    from release.gate import GateThresholds
    from release.pipeline import CandidateSource, ReleaseSettings, release
    from trainer.api import TrainOptions

    settings = ReleaseSettings(
        models_dir=args.models_dir,
        tfserving=_tfserving(args),
        gateway=args.gateway,
        registry=args.registry,
        model_name=args.model_name,
        config_file=args.model_config_file,
        thresholds=GateThresholds(
            min_accuracy=args.min_accuracy,
            max_accuracy_drop=args.max_accuracy_drop,
            max_macro_f1_drop=args.max_f1_drop,
            max_latency_ratio=args.max_latency_ratio,
        ),
        force=args.force,
        reason=args.reason,
        latency_requests=args.latency_requests,
        min_evaluation_rows=args.min_eval_rows,
        verify_timeout=args.verify_timeout,
    )
    if args.candidate is not None:
        source = CandidateSource(path=args.candidate, data=args.data)
    else:
        options = {"data": args.data, "seed": args.seed, "sample": args.sample, "quiet": args.quiet}
        if args.epochs is not None:
            options["epochs"] = args.epochs
        source = CandidateSource(train=TrainOptions(**options), compute_dtype=args.compute_dtype)
    return int(release(settings, source).exit_code)


def run_rollback(args: argparse.Namespace) -> int:
    """Roll back and report the live version; 1 when impossible or failed."""
    if args.registry:
        return _rollback_in_registry(args)
    from release import archive
    from release.lock import LockTimeout, release_lock
    from release.record import ReleaseRecord, new_run_id, record_path
    from release.rollback import rollback
    from release.rollback_plan import RollbackError, plan
    from release.server_config import ConfigError
    from release.serving import ModelServer, ServerError, describe

    import_tensorflow()
    started = time.perf_counter()
    try:
        with release_lock(args.models_dir, args.model_name):
            fallback, removed = plan(
                archive.versions_on_disk(args.models_dir, args.model_name), args.to
            )
            print(f"rolling back: archive version(s) {removed}, fall back to version {fallback}")
            with ModelServer(_tfserving(args), args.model_name) as server:
                result = rollback(
                    models_dir=args.models_dir,
                    model_name=args.model_name,
                    config_path=_config_path(args),
                    server=server,
                    record=ReleaseRecord(record_path(args.models_dir, args.model_name)),
                    run=new_run_id(),
                    removed=removed,
                    fallback=fallback,
                    reason=args.reason,
                    timeout=args.timeout,
                )
    except (RollbackError, ServerError, ConfigError, LockTimeout, OSError) as error:
        print(f"covertype rollback: {error}", file=sys.stderr)
        return 1
    for version, path in sorted(result.archived.items()):
        print(f"archived version {version} -> {path}")
    for label, before in sorted(result.labels_before.items()):
        after = result.labels_after.get(label)
        if after is None:
            print(f"label {label}: {before} -> removed (no version to fall back to)")
        elif after != before:
            print(f"label {label}: {before} -> {after} (moved to the fallback)")
    print(
        f"live: version {fallback}; server reports {describe(result.states)} "
        f"({time.perf_counter() - started:.1f} s)"
    )
    return 0


def run_label(args: argparse.Namespace) -> int:
    """Move the label and report the labels; 1 when refused or failed."""
    if args.registry:
        return _label_in_registry(args)
    from release.labels import LabelError, set_label
    from release.lock import LockTimeout
    from release.record import ReleaseRecord, record_path
    from release.server_config import ConfigError
    from release.serving import ModelServer, ServerError, describe

    import_tensorflow()
    try:
        with ModelServer(_tfserving(args), args.model_name) as server:
            result = set_label(
                models_dir=args.models_dir,
                model_name=args.model_name,
                config_path=_config_path(args),
                server=server,
                record=ReleaseRecord(record_path(args.models_dir, args.model_name)),
                label=args.label,
                version=args.version,
                timeout=args.timeout,
            )
    except (LabelError, ServerError, ConfigError, LockTimeout, OSError) as error:
        print(f"covertype label: {error}", file=sys.stderr)
        return 1
    print(f"label {result.label}: {result.before.get(result.label, 'unset')} -> {result.version}")
    labels = ", ".join(f"{name} {version}" for name, version in sorted(result.after.items()))
    print(f"labels: {labels}; server reports {describe(result.states)}")
    return 0


def run_versions(args: argparse.Namespace) -> int:
    """Print the history table (or, with --registry, the registry's versions)."""
    if args.registry:
        from registry.cli import print_versions

        return print_versions(args.registry, args.model_name)
    from release import history, server_config
    from release.record import RecordError, ReleaseRecord, record_path
    from release.serving import ModelServer, ServerError

    try:
        events = ReleaseRecord(record_path(args.models_dir, args.model_name)).events()
        config = server_config.load_config(_config_path(args), args.models_dir, args.model_name)
    except (RecordError, server_config.ConfigError) as error:
        print(f"covertype versions: {error}", file=sys.stderr)
        return 1
    try:
        with ModelServer(_tfserving(args), args.model_name, rpc_timeout=2.0) as server:
            states = server.states()
    except ServerError:
        states = None
    labels = server_config.labels_of(config, args.model_name)
    rows = history.build_rows(events, args.models_dir, args.model_name, states, labels)
    print(history.render(rows))
    if states is None:
        print(f"(model server {_tfserving(args)} not reachable: server states unknown)")
    return 0


def _watched_server(args: argparse.Namespace) -> "ModelServer | None":
    from release.serving import ModelServer

    return ModelServer(args.tfserving, args.model_name) if args.tfserving else None


def _act_in_registry(
    args: argparse.Namespace, command: str, act: Callable[..., T]
) -> "tuple[Registry, T] | None":
    """Run `act(registry, record, run, server)` on `--registry`; None (and a message) on failure.

    `server` is the model server of `--tfserving` to watch, or None.
    """
    from registry.errors import RegistryError
    from release.record import new_run_id
    from release.rollback_plan import RollbackError
    from release.serving import ServerError
    from release.through_registry import RegistryRecord

    registry = _open_registry(args, command)
    if registry is None:
        return None
    server = _watched_server(args)
    try:
        record = RegistryRecord(registry, args.model_name)
        return registry, act(registry, record, new_run_id(), server)
    except (RollbackError, RegistryError, ServerError) as error:
        print(f"covertype {command}: {error}", file=sys.stderr)
        return None
    finally:
        if server is not None:
            server.close()


def _rollback_in_registry(args: argparse.Namespace) -> int:
    """Retire the newest version(s) in the registry; each server's sync falls back."""
    from release.serving import describe
    from release.through_registry import roll_back

    started = time.perf_counter()
    done = _act_in_registry(
        args,
        "rollback",
        lambda registry, record, run, server: roll_back(
            registry, args.model_name, to=args.to, reason=args.reason, record=record, run=run,
            server=server, timeout=args.timeout,
        ),
    )  # fmt: skip
    if done is None:
        return 1
    registry, result = done
    print(f"retired version(s) {result.removed} in {registry.uri}; live: version {result.fallback}")
    for label, (before, after) in result.labels_moved.items():
        print(f"label {label}: {before} -> {after} (moved to the fallback)")
    if result.states is None:
        print("every model server's sync applies it at its next poll (--tfserving to watch one)")
    else:
        print(f"{args.tfserving} reports {describe(result.states)}")
    print(f"({time.perf_counter() - started:.1f} s)")
    return 0


def _label_in_registry(args: argparse.Namespace) -> int:
    """Point the label at the version in the registry; each server's sync applies it."""
    from release.serving import describe
    from release.through_registry import move_label

    done = _act_in_registry(
        args,
        "label",
        lambda registry, record, run, server: move_label(
            registry, args.model_name, label=args.label, version=args.version, record=record,
            run=run, server=server, timeout=args.timeout,
        ),
    )  # fmt: skip
    if done is None:
        return 1
    registry, (before, states) = done
    print(f"label {args.label}: {before if before is not None else 'unset'} -> {args.version} "
          f"in {registry.uri}")  # fmt: skip
    print(
        "every model server's sync moves it once the version has been loaded for its label delay"
        + (f"; {args.tfserving} reports {describe(states)}" if states is not None else "")
    )
    return 0
