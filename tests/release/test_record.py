"""The release record: durable appends, concurrent writers, crash-truncated lines."""

import multiprocessing
from pathlib import Path

import pytest

from release.record import (
    Event,
    RecordError,
    ReleaseEvent,
    ReleaseRecord,
    new_run_id,
    record_path,
)


def _append_many(path: str, writer: int, count: int) -> None:
    record = ReleaseRecord(Path(path))
    for number in range(count):
        record.append(
            ReleaseEvent(Event.LABELLED, reason="x" * 3000, run=f"w{writer}", version=number)
        )


def test_events_round_trip_in_order(tmp_path: Path) -> None:
    record = ReleaseRecord(record_path(tmp_path / "models", "covertype"))
    assert record.events() == []
    first = record.append(
        ReleaseEvent(Event.TRAINED, reason="r", run="run-1", candidate="c", details={"a": 1})
    )
    second = record.append(ReleaseEvent(Event.PUBLISHED, run="run-1", candidate="c", version=4))
    assert record.path == tmp_path / "models" / "covertype.releases.jsonl"
    assert record.events() == [first, second]


def test_concurrent_processes_never_interleave_lines(tmp_path: Path) -> None:
    path = tmp_path / "covertype.releases.jsonl"
    context = multiprocessing.get_context("spawn")
    writers = [context.Process(target=_append_many, args=(str(path), w, 50)) for w in range(4)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(timeout=120)
        assert writer.exitcode == 0
    events = ReleaseRecord(path).events()
    assert len(events) == 200
    for writer in range(4):
        assert [e.version for e in events if e.run == f"w{writer}"] == list(range(50))


def test_a_line_cut_short_by_a_crash_is_ignored(tmp_path: Path) -> None:
    record = ReleaseRecord(tmp_path / "r.jsonl")
    kept = record.append(ReleaseEvent(Event.ARCHIVING, version=3))
    with record.path.open("a") as handle:
        handle.write('{"event": "archived", "ver')
    assert record.events() == [kept]


def test_a_corrupt_complete_line_is_an_error_naming_the_line(tmp_path: Path) -> None:
    record = ReleaseRecord(tmp_path / "r.jsonl")
    record.append(ReleaseEvent(Event.ARCHIVING, version=3))
    with record.path.open("a") as handle:
        handle.write("not json\n")
    with pytest.raises(RecordError, match="line 2"):
        record.events()


def test_run_ids_are_unique_and_never_all_digits() -> None:
    ids = {new_run_id() for _ in range(100)}
    assert len(ids) == 100
    assert not any(run.isdigit() for run in ids)
