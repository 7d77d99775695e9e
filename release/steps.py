"""Printing a procedure's steps: what each did and how long it took."""

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TextIO


@dataclass
class StepResult:
    """One finished (or failed) step."""

    name: str
    summary: str = ""
    seconds: float = 0.0
    ok: bool = True
    lines: list[str] = field(default_factory=list)

    def say(self, text: str) -> None:
        """Set the one-line summary printed when the step ends."""
        self.summary = text

    def detail(self, text: str) -> None:
        """Add an indented line printed under the summary."""
        self.lines.append(text)


class Steps:
    """Runs named steps, printing `[n] name: what` then the outcome and duration."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.results: list[StepResult] = []

    @contextmanager
    def step(self, name: str, what: str) -> Iterator[StepResult]:
        """Time a step; an exception marks it failed (and propagates)."""
        result = StepResult(name)
        self.results.append(result)
        print(f"[{len(self.results)}] {name}: {what}", file=self.out, flush=True)
        start = time.perf_counter()
        try:
            yield result
        except BaseException as error:
            result.ok = False
            result.seconds = time.perf_counter() - start
            print(f"    FAILED ({result.seconds:.1f} s): {error}", file=self.out, flush=True)
            raise
        result.seconds = time.perf_counter() - start
        print(f"    {result.summary or 'done'} ({result.seconds:.1f} s)", file=self.out, flush=True)
        for line in result.lines:
            print(f"      {line}", file=self.out, flush=True)

    def timeline(self) -> str:
        """`name 1.2 s | name FAILED 0.3 s | ...`."""
        return " | ".join(
            f"{r.name} {'' if r.ok else 'FAILED '}{r.seconds:.1f} s" for r in self.results
        )
