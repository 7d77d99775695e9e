"""The gate decision, with plain numbers."""

import pytest

from release.gate import FORCED, HALTED, PASSED, GateThresholds, Measurement, decide

THRESHOLDS = GateThresholds(
    min_accuracy=0.80, max_accuracy_drop=0.01, max_macro_f1_drop=0.02, max_latency_ratio=1.5
)


def _m(accuracy: float, macro_f1: float | None = None, p50: float = 1.0) -> Measurement:
    f1 = accuracy if macro_f1 is None else macro_f1
    return Measurement(accuracy=accuracy, macro_f1=f1, latency_p50_ms=p50, rows=100, requests=50)


def test_first_release_passes_on_the_floor() -> None:
    decision = decide(_m(0.80), None, THRESHOLDS)
    assert decision.verdict == PASSED and decision.allows_release
    assert [c.name for c in decision.checks] == ["accuracy_floor"]


def test_first_release_below_the_floor_is_halted() -> None:
    decision = decide(_m(0.7999), None, THRESHOLDS)
    assert decision.verdict == HALTED and not decision.allows_release
    assert "accuracy 0.7999 < floor 0.8000" in decision.summary()


def test_candidate_as_good_as_live_passes() -> None:
    decision = decide(_m(0.86, 0.85, p50=1.2), _m(0.86, 0.85, p50=1.0), THRESHOLDS)
    assert decision.verdict == PASSED
    assert {c.name for c in decision.checks} == {"accuracy", "macro_f1", "latency_p50"}


def test_drops_equal_to_the_tolerance_pass() -> None:
    decision = decide(_m(0.85, 0.83, p50=1.5), _m(0.86, 0.85, p50=1.0), THRESHOLDS)
    assert decision.verdict == PASSED, decision.summary()


@pytest.mark.parametrize(
    ("candidate", "failed"),
    [
        (_m(0.849, 0.85), "accuracy"),
        (_m(0.86, 0.829), "macro_f1"),
        (_m(0.86, 0.85, p50=1.51), "latency_p50"),
    ],
)
def test_each_check_can_halt_alone(candidate: Measurement, failed: str) -> None:
    decision = decide(candidate, _m(0.86, 0.85, p50=1.0), THRESHOLDS)
    assert decision.verdict == HALTED
    assert [c.name for c in decision.checks if not c.passed] == [failed]
    assert "exceeds" in decision.summary()


def test_the_floor_does_not_apply_when_a_live_version_exists() -> None:
    decision = decide(_m(0.60), _m(0.60), THRESHOLDS)
    assert decision.verdict == PASSED


def test_force_bypasses_a_failing_gate_and_keeps_the_checks() -> None:
    decision = decide(_m(0.10), _m(0.86), THRESHOLDS, force=True)
    assert decision.verdict == FORCED and decision.allows_release
    assert not all(c.passed for c in decision.checks)
    assert decision.summary().startswith("forced: gate bypassed with --force")


def test_force_without_measurements() -> None:
    decision = decide(None, None, THRESHOLDS, force=True)
    assert decision.verdict == FORCED and decision.checks == ()
    with pytest.raises(ValueError, match="measured candidate"):
        decide(None, _m(0.86), THRESHOLDS)


def test_decision_serialises() -> None:
    data = decide(_m(0.9), None, THRESHOLDS).to_dict()
    assert data["verdict"] == PASSED
    assert data["checks"][0]["name"] == "accuracy_floor"
