"""The drift panel reads a bounded window of the newest prediction-log lines."""

from pathlib import Path

from console.drift import recent_lines


def _write(path: Path, numbers: range) -> None:
    path.write_text("".join(f'{{"n": {n:04d}}}\n' for n in numbers))


def test_the_window_takes_the_newest_whole_lines_across_rotated_files(tmp_path: Path) -> None:
    log, rotated = tmp_path / "p.jsonl", tmp_path / "p.jsonl.1"
    _write(rotated, range(0, 10))  # older lines
    _write(log, range(10, 13))  # 3 newest lines, 12 bytes each
    lines, read = recent_lines([log, rotated], window_bytes=12 * 5 + 4)
    # All of the log, then the last 28 bytes of the rotated file: 2 whole lines and a cut one.
    assert lines == [f'{{"n": {n:04d}}}' for n in (8, 9, 10, 11, 12)]
    assert read == 64


def test_a_window_larger_than_the_log_reads_it_all(tmp_path: Path) -> None:
    log = tmp_path / "p.jsonl"
    _write(log, range(3))
    lines, read = recent_lines([log], window_bytes=1 << 20)
    assert len(lines) == 3 and read == log.stat().st_size
