"""The release gate: a pure decision from measurements to "passed", "halted" or "forced".

No TensorFlow, files or clocks here: the measurements are taken elsewhere
(`release.measure`), so the decision is tested with plain numbers.
"""

from dataclasses import asdict, dataclass
from typing import Any

PASSED = "passed"
HALTED = "halted"
FORCED = "forced"


@dataclass(frozen=True)
class GateThresholds:
    """How much worse than the live version a candidate may be.

    `min_accuracy` is the absolute floor for a first release, which has no live
    version to compare against.
    """

    min_accuracy: float = 0.80
    max_accuracy_drop: float = 0.01
    max_macro_f1_drop: float = 0.01
    max_latency_ratio: float = 1.5


@dataclass(frozen=True)
class Measurement:
    """One model measured on the gate's evaluation rows and latency requests."""

    accuracy: float
    macro_f1: float
    latency_p50_ms: float
    rows: int
    requests: int

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready copy."""
        return asdict(self)


@dataclass(frozen=True)
class Check:
    """One comparison the gate made, and its outcome in words."""

    name: str
    passed: bool
    detail: str


@dataclass(frozen=True)
class GateDecision:
    """The verdict and every check behind it."""

    verdict: str
    checks: tuple[Check, ...]

    @property
    def allows_release(self) -> bool:
        """Whether the pipeline may publish (passed, or bypassed with --force)."""
        return self.verdict in (PASSED, FORCED)

    def summary(self) -> str:
        """One line: the verdict and the failed checks (or all checks when none failed)."""
        failed = [c.detail for c in self.checks if not c.passed]
        shown = failed or [c.detail for c in self.checks]
        if self.verdict == FORCED:
            shown = ["gate bypassed with --force", *shown]
        return f"{self.verdict}: " + "; ".join(shown)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready copy."""
        return {"verdict": self.verdict, "checks": [asdict(c) for c in self.checks]}


def decide(
    candidate: Measurement | None,
    live: Measurement | None,
    thresholds: GateThresholds,
    *,
    force: bool = False,
) -> GateDecision:
    """Decide whether `candidate` may replace `live` (None: there is no live version).

    With `force` the verdict is "forced" whatever the checks say; the checks are
    still computed when measurements exist, so the record shows what was bypassed.
    """
    checks: tuple[Check, ...] = ()
    if candidate is not None:
        checks = (
            _floor_check(candidate, thresholds)
            if live is None
            else _comparison_checks(candidate, live, thresholds)
        )
    elif not force:
        raise ValueError("the gate needs a measured candidate unless forced")
    if force:
        return GateDecision(FORCED, checks)
    return GateDecision(PASSED if all(c.passed for c in checks) else HALTED, checks)


def _floor_check(candidate: Measurement, thresholds: GateThresholds) -> tuple[Check, ...]:
    passed = candidate.accuracy >= thresholds.min_accuracy
    relation = ">=" if passed else "<"
    return (
        Check(
            "accuracy_floor",
            passed,
            f"first release: accuracy {candidate.accuracy:.4f} {relation} floor "
            f"{thresholds.min_accuracy:.4f}",
        ),
    )


def _comparison_checks(
    candidate: Measurement, live: Measurement, thresholds: GateThresholds
) -> tuple[Check, ...]:
    return (
        _drop_check("accuracy", candidate.accuracy, live.accuracy, thresholds.max_accuracy_drop),
        _drop_check("macro_f1", candidate.macro_f1, live.macro_f1, thresholds.max_macro_f1_drop),
        _latency_check(candidate, live, thresholds.max_latency_ratio),
    )


def _drop_check(name: str, candidate: float, live: float, max_drop: float) -> Check:
    drop = live - candidate
    # Rounded so that a drop equal to the tolerance passes despite float noise.
    passed = round(drop, 9) <= max_drop
    verb = "within" if passed else "exceeds"
    return Check(
        name,
        passed,
        f"{name} {candidate:.4f} vs live {live:.4f} (drop {drop:+.4f} {verb} "
        f"allowed {max_drop:.4f})",
    )


def _latency_check(candidate: Measurement, live: Measurement, max_ratio: float) -> Check:
    ratio = candidate.latency_p50_ms / live.latency_p50_ms if live.latency_p50_ms > 0 else 1.0
    passed = ratio <= max_ratio
    verb = "within" if passed else "exceeds"
    return Check(
        "latency_p50",
        passed,
        f"p50 latency {candidate.latency_p50_ms:.3f} ms vs live {live.latency_p50_ms:.3f} ms "
        f"(ratio {ratio:.2f} {verb} allowed {max_ratio:.2f})",
    )
