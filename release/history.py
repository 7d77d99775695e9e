"""`covertype versions`: every version and candidate, folded from the record and the disk.

Rows come from three places: the release record (candidates, gate verdicts,
publications, rollbacks), the base path (versions published without the pipeline
show as "unrecorded") and the archive. The server's view (state) and the labels in
`models.config` are joined in when available.
"""

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from covertype.defaults import ASSETS_EXTRA, METRICS_FILE
from release import archive
from release.record import Event, ReleaseEvent
from release.serving import AVAILABLE, States

LIVE = "live"
SERVING = "serving"
RELEASED = "released"
ARCHIVED = "archived"
HALTED = "halted"
FAILED = "failed"
UNRECORDED = "unrecorded"


@dataclass
class VersionRow:
    """One line of the table."""

    version: int | None
    candidate: str | None = None
    status: str = UNRECORDED
    server: str = "-"
    labels: list[str] = field(default_factory=list)
    accuracy: float | None = None
    latency_p50_ms: float | None = None
    fingerprint: str | None = None
    created: str | None = None
    reason: str = ""


def fold(events: Iterable[ReleaseEvent]) -> tuple[list[VersionRow], dict[int, VersionRow]]:
    """Rows of every recorded candidate, and the rows currently holding each version number."""
    rows: dict[str, VersionRow] = {}
    in_base: dict[int, VersionRow] = {}
    for event in events:
        if event.event == Event.TRAINED and event.candidate:
            rows[event.candidate] = VersionRow(
                version=None,
                candidate=event.candidate,
                status="trained",
                accuracy=event.details.get("accuracy"),
                fingerprint=event.details.get("data_fingerprint"),
                created=event.time,
                reason=event.reason,
            )
            continue
        row = rows.get(event.candidate or "")
        if event.event == Event.GATE and row:
            latency = (event.details.get("candidate") or {}).get("latency_p50_ms")
            row.latency_p50_ms = latency
            row.status = event.details.get("verdict", row.status)
            row.reason = event.reason
        elif event.event == Event.PUBLISHING and row:
            row.status = "publishing"
        elif event.event == Event.PUBLISHED and row and event.version is not None:
            row.version, row.status, row.created = event.version, "published", event.time
            in_base[event.version] = row
        elif event.event == Event.VERIFIED and row:
            row.status = RELEASED
        elif event.event in (Event.VERIFY_FAILED, Event.FAILED) and row:
            row.status, row.reason = FAILED, event.reason
        elif event.event == Event.ARCHIVED and event.version is not None:
            archived = in_base.pop(event.version, None)
            if archived:
                archived.status, archived.reason = ARCHIVED, f"rolled back: {event.reason}"
    return list(rows.values()), in_base


def build_rows(
    events: Iterable[ReleaseEvent],
    models_dir: Path,
    model_name: str,
    states: States | None,
    labels: Mapping[str, int],
) -> list[VersionRow]:
    """The table's rows, oldest first; `states` None when the server cannot be reached."""
    rows, in_base = fold(events)
    base = archive.base_path(models_dir, model_name)
    for version in archive.versions_on_disk(models_dir, model_name):
        if version not in in_base:
            in_base[version] = _row_from_card(version, base / str(version), UNRECORDED)
            rows.append(in_base[version])
    recorded_archive = {r.version for r in rows if r.status == ARCHIVED}
    for folder in archive.archived_folders(models_dir, model_name):
        number = folder.name.split("-")[0]
        if number.isdigit() and int(number) not in recorded_archive:
            rows.append(_row_from_card(int(number), folder, ARCHIVED))
    live = max((v for v, s in (states or {}).items() if s.state == AVAILABLE), default=None)
    for version, row in in_base.items():
        row.server = "unknown" if states is None else str(states.get(version, "-"))
        row.labels = sorted(label for label, v in labels.items() if v == version)
        if states is not None and states.get(version) and states[version].state == AVAILABLE:
            row.status = LIVE if version == live else SERVING
    return sorted(rows, key=lambda r: r.created or "")


def render(rows: list[VersionRow]) -> str:
    """The rows as a fixed-width table."""
    header = (
        "VERSION",
        "STATUS",
        "SERVER",
        "LABELS",
        "ACCURACY",
        "P50 MS",
        "FINGERPRINT",
        "CREATED",
        "REASON",
    )
    table = [header] + [
        (
            str(r.version) if r.version is not None else f"-({r.candidate})",
            r.status,
            r.server,
            ",".join(r.labels) or "-",
            f"{r.accuracy:.4f}" if r.accuracy is not None else "-",
            f"{r.latency_p50_ms:.3f}" if r.latency_p50_ms is not None else "-",
            (r.fingerprint or "-").removeprefix("sha256:")[:12],
            (r.created or "-")[:19].replace("T", " "),
            r.reason or "-",
        )
        for r in rows
    ]
    widths = [max(len(line[i]) for line in table) for i in range(len(header) - 1)]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=False))
        + "  "
        + line[-1]
        for line in table
    )


def _row_from_card(version: int, folder: Path, status: str) -> VersionRow:
    card = _read_card(folder)
    created = datetime.fromtimestamp(folder.stat().st_mtime, UTC).isoformat(timespec="seconds")
    return VersionRow(
        version=version,
        status=status,
        accuracy=card.get("accuracy"),
        fingerprint=card.get("data_fingerprint"),
        created=created.replace("+00:00", "Z"),
        reason="published outside the release pipeline" if status == UNRECORDED else "",
    )


def _read_card(folder: Path) -> dict[str, Any]:
    try:
        return json.loads((folder / ASSETS_EXTRA / METRICS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
