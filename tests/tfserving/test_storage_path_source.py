"""Which version folders count, when they are complete, and what each policy aspires to."""

from pathlib import Path

import pytest
from google.protobuf import text_format

from covertype.versions import parse_version
from tfserving.sources.file_system_storage_path_source import (
    FileSystemStoragePathSource,
    ServableToMonitor,
    ServableVersionPolicy,
    incomplete_reason,
    versions_to_serve,
)


def policy(text: str) -> ServableVersionPolicy:
    return text_format.Parse(text, ServableVersionPolicy())


@pytest.mark.parametrize(
    ("name", "version"),
    [
        ("1", 1),
        ("007", 7),
        ("123456789", 123456789),
        ("1a", None),
        ("-1", None),
        ("1.0", None),
        ("", None),
        ("٣", None),
        (".tmp-3", None),
        ("99999999999999999999", None),
    ],
)
def test_only_all_digit_folder_names_are_versions(name: str, version: int | None) -> None:
    assert parse_version(name) == version


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", [5]),
        ("latest {}", [5]),
        ("latest { num_versions: 2 }", [3, 5]),
        ("latest { num_versions: 9 }", [1, 2, 3, 5]),
        ("all {}", [1, 2, 3, 5]),
        ("specific { versions: 2 versions: 4 }", [2]),
        ("specific { versions: 1 versions: 5 }", [1, 5]),
    ],
)
def test_version_policies(text: str, expected: list[int]) -> None:
    assert versions_to_serve(policy(text), [3, 1, 5, 2]) == expected


def test_no_versions_aspires_nothing() -> None:
    assert versions_to_serve(policy("latest { num_versions: 2 }"), []) == []


def make_version(path: Path, shards: int = 1, *, present: int | None = None) -> Path:
    (path / "variables").mkdir(parents=True)
    (path / "saved_model.pb").write_bytes(b"graph")
    (path / "variables" / "variables.index").write_bytes(b"index")
    for shard in range(shards if present is None else present):
        (path / "variables" / f"variables.data-{shard:05d}-of-{shards:05d}").write_bytes(b"x")
    return path


def test_a_complete_folder(tmp_path: Path) -> None:
    assert incomplete_reason(make_version(tmp_path / "1", shards=2)) is None


def test_incomplete_folders(tmp_path: Path) -> None:
    no_graph = make_version(tmp_path / "1")
    (no_graph / "saved_model.pb").unlink()
    assert incomplete_reason(no_graph) == "no saved_model.pb"

    no_variables = tmp_path / "2"
    no_variables.mkdir()
    (no_variables / "saved_model.pb").write_bytes(b"graph")
    assert incomplete_reason(no_variables) == "no variables/ folder"

    no_index = make_version(tmp_path / "3")
    (no_index / "variables" / "variables.index").unlink()
    assert incomplete_reason(no_index) == "no variables/variables.index"

    missing_shard = make_version(tmp_path / "4", shards=3, present=2)
    assert incomplete_reason(missing_shard) == "variables/ holds 2 of 3 data shards"


def test_the_source_emits_complete_versions_by_policy(tmp_path: Path) -> None:
    base = tmp_path / "model"
    for version in (1, 2, 3):
        make_version(base / str(version))
    (base / "4").mkdir()  # still being written
    (base / "notes").mkdir()
    (base / "5").write_text("a file, not a folder")
    emitted: list[tuple[str, list[int]]] = []
    source = FileSystemStoragePathSource(
        0, lambda name, versions: emitted.append((name, [v for v, _ in versions]))
    )
    source.update_config([ServableToMonitor("m", str(base), policy("latest { num_versions: 2 }"))])
    assert emitted == [("m", [2, 3])]

    (base / "3" / "saved_model.pb").unlink()  # deleted: falls back
    source.poll()
    assert emitted[-1] == ("m", [1, 2])

    source.update_config([])  # model removed from the config: nothing aspired
    assert emitted[-1] == ("m", [])


def test_an_unreadable_base_path_keeps_the_previous_versions(tmp_path: Path) -> None:
    emitted: list[tuple[str, list[int]]] = []
    source = FileSystemStoragePathSource(0, lambda n, v: emitted.append((n, [x for x, _ in v])))
    source.update_config([ServableToMonitor("m", str(tmp_path / "missing"), policy(""))])
    assert emitted == []
