"""`covertype release`: candidate -> gate -> publish -> verify -> (roll back on failure).

Each step prints what it did and how long it took; the run ends with a one-screen
report. The record gets an event before every change to what is served.
"""

import shutil
import sys
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from enum import IntEnum
from pathlib import Path
from typing import Any, TextIO

from covertype.defaults import MODEL_NAME
from registry.errors import RegistryError
from registry.materialise import materialise
from registry.registry import Registry
from registry.uri import open_registry
from release import archive, gate, server_config, transition, verify
from release.candidates import CandidateError
from release.lock import LockTimeout, release_lock
from release.measure import MeasureError
from release.record import Event, ReleaseEvent, ReleaseRecord, new_run_id, record_path
from release.rollback import rollback
from release.rollback_plan import RollbackError
from release.serving import ModelServer, ServerError, States, describe
from release.steps import StepResult, Steps
from release.through_registry import RegistryRecord, live_versions
from trainer.publish import IncompleteCandidateError

CANDIDATES_DIR = ".candidates"


class ExitCode(IntEnum):
    """How a release ended."""

    RELEASED = 0
    FAILED = 1
    INVALID_DATA = 2
    HALTED = 3
    ROLLED_BACK = 4


@dataclass(frozen=True)
class ReleaseSettings:
    """Where the stack is and how strict the gate is."""

    models_dir: Path
    tfserving: str
    gateway: str
    model_name: str = MODEL_NAME
    config_file: Path | None = None  # None: <models-dir>/models.config
    # None: publish into the base path (folder mode); else a registry URI, which every
    # model server's sync makes servable (registry mode)
    registry: str | None = None
    thresholds: gate.GateThresholds = field(default_factory=gate.GateThresholds)
    force: bool = False
    reason: str = ""
    latency_requests: int = 200
    min_evaluation_rows: int = 200
    verify_timeout: float = 60.0

    @property
    def config_path(self) -> Path:
        """The `models.config` the labels and version policy are kept in."""
        return self.config_file or self.models_dir / "models.config"


@dataclass(frozen=True)
class CandidateSource:
    """Train a new candidate (`train`), or release one already built (`path`).

    `data` gives the gate its evaluation rows when the candidate is given by path.
    """

    train: Any = None  # trainer.api.TrainOptions
    path: Path | None = None
    data: Path | None = None
    compute_dtype: str = "auto"  # what a trained candidate's products run in (trainer.precision)


@dataclass
class ReleaseOutcome:
    """The result of one run, for the report and for tests."""

    run: str
    exit_code: ExitCode = ExitCode.FAILED
    candidate: str | None = None
    candidate_metrics: dict[str, Any] = field(default_factory=dict)
    live_before: int | None = None
    version: int | None = None
    live_after: int | None = None
    decision: gate.GateDecision | None = None
    error: str = ""
    states: States = field(default_factory=dict)


_EXIT_MEANING = {
    ExitCode.RELEASED: "released",
    ExitCode.FAILED: "failed",
    ExitCode.INVALID_DATA: "invalid data",
    ExitCode.HALTED: "halted by the gate",
    ExitCode.ROLLED_BACK: "verification failed, rolled back",
}


class ReleaseFailed(Exception):
    """A step failed; `exit_code` says how the run ends."""

    def __init__(self, message: str, exit_code: ExitCode = ExitCode.FAILED) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def release(
    settings: ReleaseSettings, source: CandidateSource, out: TextIO | None = None
) -> ReleaseOutcome:
    """Run the whole pipeline, printing to `out` (default stdout); see the exit code."""
    out = out or sys.stdout
    run = _Run(settings, source, out)
    try:
        run.execute()
    except ReleaseFailed as failure:
        run.outcome.exit_code, run.outcome.error = failure.exit_code, str(failure)
        if failure.exit_code != ExitCode.ROLLED_BACK:  # that one is recorded step by step
            run.record_failure(str(failure))
    except _EXPECTED_ERRORS as error:
        run.outcome.exit_code, run.outcome.error = ExitCode.FAILED, str(error)
        run.record_failure(str(error))
    report = render_report(run.outcome, run.steps, settings, run.record.location)
    print(report, file=out, flush=True)
    return run.outcome


_EXPECTED_ERRORS = (
    RegistryError,
    ServerError,
    OSError,
    server_config.ConfigError,
    RollbackError,
    MeasureError,
    CandidateError,
    IncompleteCandidateError,
    LockTimeout,
)


class _Run:
    """The state of one release run; each method is one step."""

    def __init__(self, settings: ReleaseSettings, source: CandidateSource, out: TextIO) -> None:
        self.settings = settings
        self.source = source
        self.steps = Steps(out)
        self.registry = open_registry(settings.registry) if settings.registry else None
        self.record: ReleaseRecord | RegistryRecord = (
            RegistryRecord(self.registry, settings.model_name)
            if self.registry
            else ReleaseRecord(record_path(settings.models_dir, settings.model_name))
        )
        self.outcome = ReleaseOutcome(run=new_run_id())
        self.server = ModelServer(settings.tfserving, settings.model_name)
        self.validated: Any = None  # trainer.validation.ValidatedData, when data is needed
        self.built: Any = None  # release.candidates.BuiltCandidate
        self.warmup: list[dict[str, Any]] = []  # the candidate's warmup rows, for verify

    def execute(self) -> None:
        try:
            self.preflight()
            if self.source.path is None or not self.settings.force:
                self.validate()
            self.build_candidate()
            if not self.run_gate().allows_release:
                self.outcome.exit_code = ExitCode.HALTED
                self.outcome.live_after = self.outcome.live_before
                return
            with release_lock(self.settings.models_dir, self.settings.model_name):
                self.publish_and_verify()
            self.outcome.exit_code = ExitCode.RELEASED
        finally:
            self.server.close()

    def publish_and_verify(self) -> None:
        baseline = self.server.states()
        self.publish()
        try:
            self.verify(baseline)
        except (ServerError, verify.VerifyError) as error:
            self.roll_back(str(error))
            raise ReleaseFailed(
                f"version {self.outcome.version} failed verification and was rolled back: {error}",
                ExitCode.ROLLED_BACK,
            ) from error

    def _event(self, event: str, reason: str = "", **fields: Any) -> None:
        self.record.append(
            ReleaseEvent(
                event,
                reason=reason,
                run=self.outcome.run,
                candidate=self.outcome.candidate,
                **fields,
            )
        )

    def record_failure(self, error: str) -> None:
        self._event(Event.FAILED, reason=error, version=self.outcome.version)

    def preflight(self) -> None:
        settings = self.settings
        with self.steps.step("preflight", "model server, gateway and models dir") as step:
            states = self.server.states()
            self.outcome.live_before = max(
                (v for v, s in states.items() if s.state == "AVAILABLE"), default=None
            )
            _gateway_healthy(settings.gateway)
            if self.registry is not None:
                self._check_live_in_registry(self.registry)
            elif self.outcome.live_before is not None:
                live_dir = archive.base_path(settings.models_dir, settings.model_name) / str(
                    self.outcome.live_before
                )
                if not live_dir.is_dir():
                    raise ReleaseFailed(
                        f"the server's live version {self.outcome.live_before} is not in "
                        f"{live_dir.parent}: is --models-dir the server's base path?"
                    )
            step.say(
                f"live version {_v(self.outcome.live_before)} on {settings.tfserving} "
                f"({describe(states)}); gateway {settings.gateway} healthy"
            )

    def _check_live_in_registry(self, registry: Registry) -> None:
        registry.store.check()
        live = live_versions(registry, self.settings.model_name)
        if self.outcome.live_before is not None and self.outcome.live_before not in live:
            raise ReleaseFailed(
                f"the server's live version {self.outcome.live_before} is not a live version "
                f"of {registry.uri} (live there: {live or 'none'}): is {self.settings.tfserving} "
                "synced from this registry?"
            )

    def validate(self) -> None:
        from release import candidates

        data = self.source.train.data if self.source.train is not None else self.source.data
        with self.steps.step("validate", "find, read and validate the data") as step:
            try:
                self.validated = candidates.validate_data(data)
            except candidates.InvalidData as error:
                raise ReleaseFailed(str(error), ExitCode.INVALID_DATA) from error
            step.say(
                f"{self.validated.rows:,} valid rows from {self.validated.location.describe()}"
            )
            step.detail(f"fingerprint {self.validated.fingerprint()}")

    def build_candidate(self) -> None:
        from release import candidates

        with self.steps.step("candidate", self._candidate_what()) as step:
            if self.source.path is not None:
                built = candidates.given(self.source.path)
            else:
                workdir = self.settings.models_dir / CANDIDATES_DIR / self.outcome.run
                built = candidates.train(
                    self.source.train, workdir, self.validated, self.source.compute_dtype
                )
            self.built = built
            self.outcome.candidate = self.outcome.run
            self.outcome.candidate_metrics = built.metrics
            self._event(
                Event.TRAINED,
                reason=self.settings.reason or built.origin,
                details={"path": str(built.path), **built.summary},
            )
            step.say(f"candidate {self.outcome.candidate} in {built.path}")
            step.detail(candidates.describe(built.summary))

    def _candidate_what(self) -> str:
        if self.source.path is not None:
            return f"use the SavedModel in {self.source.path}"
        return "train, evaluate and export a candidate outside the base path"

    def run_gate(self) -> gate.GateDecision:
        settings = self.settings
        with self.steps.step("gate", "compare candidate with the live version") as step:
            measured: dict[str, Any] = {}
            evaluation: dict[str, Any] = {}
            if settings.force:
                decision = gate.decide(None, None, settings.thresholds, force=True)
            else:
                measured, evaluation = self._measure(step)
                decision = gate.decide(
                    gate.Measurement(**measured["candidate"]),
                    gate.Measurement(**measured["live"]) if "live" in measured else None,
                    settings.thresholds,
                )
            self.outcome.decision = decision
            self._event(
                Event.GATE,
                reason=_with_reason(settings.reason, decision.summary()),
                details={
                    **decision.to_dict(),
                    **measured,
                    "evaluation": evaluation,
                    "live_version": self.outcome.live_before,
                    "thresholds": asdict(settings.thresholds),
                },
            )
            step.say(decision.verdict.upper())
            for check in decision.checks:
                step.detail(f"{'ok ' if check.passed else 'NO '} {check.detail}")
        return decision

    def _measure(self, step: StepResult) -> tuple[dict[str, Any], dict[str, Any]]:
        """Load candidate (and live) side by side; measure them on the same rows."""
        from release import candidates
        from release.measure import LoadedModel, measure

        settings = self.settings
        models = {"candidate": LoadedModel(self.built.path)}
        live_card = None
        if self.outcome.live_before is not None:
            live_dir = self._live_dir(self.outcome.live_before)
            models["live"] = LoadedModel(live_dir)
            live_card = candidates.read_card(live_dir)
        own_features, own_labels = candidates.candidate_test_split(
            self.validated, self.built.metrics
        )
        _check_same_rows(
            models["candidate"].quality(own_features, own_labels)[0], self.built.metrics
        )
        rows = candidates.evaluation_rows(
            self.validated, self.built.metrics, live_card, settings.min_evaluation_rows
        )
        results = measure(
            models, rows.features, rows.labels, latency_requests=settings.latency_requests
        )
        step.detail(f"{len(rows.labels)} evaluation rows, {rows.held_out_by}")
        for name, values in results.items():
            step.detail(
                f"{name}: accuracy {values.accuracy:.4f}, macro F1 {values.macro_f1:.4f}; "
                f"p50 {values.latency_p50_ms:.3f} ms over {values.requests} one-row requests"
            )
        evaluation = {"rows": len(rows.labels), "held_out_by": rows.held_out_by}
        return {name: m.to_dict() for name, m in results.items()}, evaluation

    def _live_dir(self, version: int) -> Path:
        """The live version's folder: in the base path, or fetched from the registry."""
        settings = self.settings
        if self.registry is None:
            return archive.base_path(settings.models_dir, settings.model_name) / str(version)
        scratch = settings.models_dir / CANDIDATES_DIR / self.outcome.run / "live"
        manifest = self.registry.manifest(settings.model_name, version)
        return materialise(self.registry.store, manifest, scratch)

    def publish(self) -> None:
        from release import verify
        from trainer.api import publish_version

        settings = self.settings
        what = (
            f"commit the candidate to {self.registry.uri}"
            if self.registry
            else "copy the candidate into the base path atomically"
        )
        with self.steps.step("publish", what) as step:
            self.warmup = verify.warmup_instances(self.built.path)
            self._event(Event.PUBLISHING, reason=self.settings.reason)
            if self.registry is not None:
                version = self.registry.publish(self.built.path, settings.model_name)
                where = self.registry.uri
            else:
                version = publish_version(self.built.path, settings.models_dir, settings.model_name)
                where = str(archive.base_path(settings.models_dir, settings.model_name))
            self.outcome.version = version
            self._event(Event.PUBLISHED, reason=self.settings.reason, version=version)
            scratch = settings.models_dir / CANDIDATES_DIR / self.outcome.run
            if self.source.path is None or self.registry is not None:
                # A trained candidate's workdir is now a copy of the published version.
                shutil.rmtree(scratch, ignore_errors=True)
            step.say(f"version {version} in {where}")

    def verify(self, baseline: States) -> None:
        settings = self.settings
        version = self.outcome.version
        assert version is not None
        with self.steps.step("verify", f"version {version} AVAILABLE and answering") as step:
            if self.registry is None:
                self._serve_new_version(version, baseline)
            states = self.server.wait_available(
                {version}, settings.verify_timeout, baseline=baseline
            )
            result = verify.check_gateway(
                settings.gateway, version, self.warmup, settings.verify_timeout
            )
            self.outcome.states, self.outcome.live_after = states, version
            self._event(
                Event.VERIFIED,
                reason=self.settings.reason or "released",
                version=version,
                details={"instances": result.instances, "states": describe(states)},
            )
            step.say(
                f"server reports {describe(states)}; gateway answered {result.instances} warmup "
                f"instances with version {result.versioned_answer} (unversioned: "
                f"{result.unversioned_answer})"
            )

    def _serve_new_version(self, version: int, baseline: States) -> None:
        """Folder mode: a config with labels or a specific policy must list the version."""
        settings = self.settings
        config = server_config.load_config(
            settings.config_path, settings.models_dir, settings.model_name
        )
        labels = server_config.labels_of(config, settings.model_name)
        model = server_config.model_config(config, settings.model_name)
        if labels or model.model_version_policy.HasField("specific"):
            # A specific policy never loads a new version by itself.
            transition.preload(
                self.server,
                settings.config_path,
                config,
                {version},
                settings.verify_timeout,
                baseline=baseline,
            )
            final, _ = transition.final_config(config, settings.model_name, labels, version)
            transition.apply_config(self.server, settings.config_path, final)

    def roll_back(self, error: str) -> None:
        settings = self.settings
        version = self.outcome.version
        assert version is not None
        self._event(Event.VERIFY_FAILED, reason=error, version=version)
        if self.registry is not None:
            self._retire_in_registry(self.registry, version, error)
            return
        on_disk = archive.versions_on_disk(settings.models_dir, settings.model_name)
        others = [v for v in on_disk if v != version]
        fallback = (
            self.outcome.live_before
            if self.outcome.live_before in others
            else max(others, default=None)
        )
        with self.steps.step("rollback", f"take version {version} out of service") as step:
            result = rollback(
                models_dir=settings.models_dir,
                model_name=settings.model_name,
                config_path=settings.config_path,
                server=self.server,
                record=self.record,
                run=self.outcome.run,
                removed=[version],
                fallback=fallback,
                reason=f"verification failed: {error}",
                timeout=settings.verify_timeout,
            )
            self.outcome.states, self.outcome.live_after = result.states, fallback
            step.say(
                f"version {version} archived to {result.archived[version]}; "
                f"live: {fallback if fallback is not None else 'nothing (no other version)'}"
            )

    def _retire_in_registry(self, registry: Registry, version: int, error: str) -> None:
        """Registry mode: retire the version; every sync falls back to the live one."""
        settings = self.settings
        fallback = self.outcome.live_before
        reason = f"verification failed: {error}"
        with self.steps.step("rollback", f"retire version {version} in {registry.uri}") as step:
            self._event(Event.ARCHIVING, reason=reason, version=version)
            registry.retire(settings.model_name, version, reason=reason)
            self._event(Event.ARCHIVED, reason=reason, version=version)
            if fallback is not None:
                self.server.wait_available({fallback}, settings.verify_timeout)
                self.outcome.states = self.server.wait_unloaded({version}, settings.verify_timeout)
            self.outcome.live_after = fallback
            step.say(
                f"version {version} retired (kept in the registry); "
                f"live: {fallback if fallback is not None else 'nothing (no other version)'}"
            )


# The gate's rows are the candidate's test split only if the candidate scores there
# what its model card says (a few argmax ties may flip between Keras and the export).
_CARD_ACCURACY_TOLERANCE = 0.005


def _check_same_rows(accuracy: float, card: dict[str, Any]) -> None:
    expected = card.get("accuracy")
    if isinstance(expected, float) and abs(accuracy - expected) > _CARD_ACCURACY_TOLERANCE:
        raise ReleaseFailed(
            f"the rebuilt test split is not the candidate's: it scores {accuracy:.4f} there, "
            f"its model card says {expected:.4f}"
        )


def _gateway_healthy(url: str) -> None:
    target = url.rstrip("/") + "/healthz"
    try:
        with urllib.request.urlopen(target, timeout=5) as response:
            response.read()
    except (urllib.error.URLError, TimeoutError) as error:
        raise ReleaseFailed(f"gateway {url} is not reachable ({target}: {error})") from error


def render_report(
    outcome: ReleaseOutcome, steps: Steps, settings: ReleaseSettings, record_location: str
) -> str:
    """The one-screen summary printed at the end of every run."""
    verdicts = {
        ExitCode.RELEASED: f"RELEASED version {outcome.version}",
        ExitCode.HALTED: "HALTED by the gate (nothing published)",
        ExitCode.ROLLED_BACK: f"ROLLED BACK version {outcome.version}",
        ExitCode.INVALID_DATA: "FAILED: invalid data (nothing published)",
        ExitCode.FAILED: "FAILED",
    }
    metrics = outcome.candidate_metrics
    lines = [
        "",
        f"== release {outcome.run}: {verdicts[outcome.exit_code]} ==",
        f"candidate : {outcome.candidate or '-'}"
        + (
            f"  accuracy {metrics['accuracy']:.4f}  macro F1 {metrics['macro_f1']:.4f}"
            if "accuracy" in metrics and "macro_f1" in metrics
            else ""
        ),
        f"gate      : {outcome.decision.summary() if outcome.decision else '-'}",
        f"live      : version {_v(outcome.live_before)} before, {_v(outcome.live_after)} after"
        + (f"  [{describe(outcome.states)}]" if outcome.states else ""),
        f"steps     : {steps.timeline()}",
    ]
    if outcome.error:
        lines.append(f"error     : {outcome.error}")
    where = (
        f"--registry {settings.registry}"
        if settings.registry
        else f"--models-dir {settings.models_dir} --tfserving {settings.tfserving}"
    )
    lines += [
        f"record    : {record_location}",
        f"history   : covertype versions {where}",
        f"exit code : {int(outcome.exit_code)} ({_EXIT_MEANING[outcome.exit_code]})",
    ]
    return "\n".join(lines)


def _with_reason(reason: str, outcome: str) -> str:
    return f"{reason} ({outcome})" if reason else outcome


def _v(version: int | None) -> str:
    return "none" if version is None else str(version)
