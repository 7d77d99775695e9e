"""The versions table folded from a record, the disk and the server's states."""

import json
from pathlib import Path

import pytest

from release.history import build_rows, render
from release.record import Event, ReleaseEvent
from release.serving import VersionStatus


def _version_folder(folder: Path, accuracy: float) -> None:
    card = folder / "assets.extra" / "metrics.json"
    card.parent.mkdir(parents=True)
    card.write_text(json.dumps({"accuracy": accuracy, "data_fingerprint": "f" * 64}))


def _release(run: str, version: int | None, verdict: str, accuracy: float) -> list[ReleaseEvent]:
    events = [
        ReleaseEvent(
            Event.TRAINED,
            run=run,
            candidate=run,
            reason="trained",
            details={"accuracy": accuracy, "data_fingerprint": f"{run}-fp"},
            time=f"2026-01-0{run[-1]}T00:00:00.000Z",
        ),
        ReleaseEvent(
            Event.GATE,
            run=run,
            candidate=run,
            reason=f"{verdict}: because",
            details={"verdict": verdict, "candidate": {"latency_p50_ms": 0.5}},
        ),
    ]
    if version is not None:
        events += [
            ReleaseEvent(Event.PUBLISHING, run=run, candidate=run),
            ReleaseEvent(Event.PUBLISHED, run=run, candidate=run, version=version),
            ReleaseEvent(Event.VERIFIED, run=run, candidate=run, version=version),
        ]
    return events


def test_rows_from_record_disk_and_server(tmp_path: Path) -> None:
    base = tmp_path / "covertype"
    for version in (1, 2, 4):
        _version_folder(base / str(version), 0.8 + version / 100)
    _version_folder(tmp_path / "covertype.archive" / "3", 0.5)
    events = [
        *_release("run-1", 1, "passed", 0.81),
        *_release("run-2", 2, "passed", 0.82),
        *_release("run-3", None, "halted", 0.40),
        *_release("run-4", 3, "forced", 0.50),
        ReleaseEvent(Event.ARCHIVING, run="rb", version=3, reason="bad"),
        ReleaseEvent(Event.ARCHIVED, run="rb", version=3, reason="bad"),
    ]
    states = {
        1: VersionStatus("AVAILABLE"),
        2: VersionStatus("AVAILABLE"),
        3: VersionStatus("END"),
        4: VersionStatus("END", "cannot load"),
    }

    rows = build_rows(events, tmp_path, "covertype", states, {"stable": 1})

    by_key = {row.version if row.version is not None else row.candidate: row for row in rows}
    assert by_key[1].status == "serving" and by_key[1].labels == ["stable"]
    assert by_key[1].latency_p50_ms == 0.5 and by_key[1].fingerprint == "run-1-fp"
    assert by_key[2].status == "live" and by_key[2].server == "AVAILABLE"
    assert by_key["run-3"].status == "halted" and by_key["run-3"].reason == "halted: because"
    assert by_key[3].status == "archived" and by_key[3].reason == "rolled back: bad"
    assert by_key[4].status == "unrecorded" and by_key[4].server == "END (cannot load)"
    assert by_key[4].accuracy == pytest.approx(0.84) and by_key[4].fingerprint == "f" * 64
    assert len(rows) == 5  # the archived folder 3 is the recorded one, not a second row

    table = render(rows)
    assert table.splitlines()[0].split() == [
        "VERSION",
        "STATUS",
        "SERVER",
        "LABELS",
        "ACCURACY",
        "P50",
        "MS",
        "FINGERPRINT",
        "CREATED",
        "REASON",
    ]
    assert "-(run-3)" in table and "END (cannot load)" in table


def test_unreachable_server_shows_unknown(tmp_path: Path) -> None:
    _version_folder(tmp_path / "covertype" / "1", 0.9)
    (row,) = build_rows([], tmp_path, "covertype", None, {})
    assert (row.version, row.server, row.status) == (1, "unknown", "unrecorded")
    assert row.reason == "published outside the release pipeline"
