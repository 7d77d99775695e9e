"""The vocabulary of data problems: what is wrong, on which line, in which column.

Checks run column-wise over hundreds of thousands of rows, so problems are kept in
groups (one rule, one column, an array of line numbers) and only turned into single
`Problem`s when someone iterates or prints them.
"""

import heapq
import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Problem:
    """One violation: the file line (None for the file as a whole), the column and what is wrong."""

    line: int | None
    column: str | None
    message: str

    def __str__(self) -> str:
        where = [f"line {self.line}"] if self.line is not None else []
        where += [f"column {self.column}"] if self.column is not None else []
        return f"{', '.join(where)}: {self.message}" if where else self.message


@dataclass(frozen=True)
class ProblemGroup:
    """Every violation of one rule in one column.

    `template` is formatted with the i-th element of each array in `args` to describe the
    i-th violation, e.g. `"value {0:g} must be between 0 and 360"`. `lines` is ascending;
    it is empty for a problem with the file as a whole, which then counts once.
    """

    column: str | None
    rule: str
    template: str
    lines: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    args: tuple[np.ndarray, ...] = ()

    def __len__(self) -> int:
        return max(len(self.lines), 1)

    def __iter__(self) -> Iterator[Problem]:
        if len(self.lines) == 0:
            yield Problem(None, self.column, self.template)
            return
        for i, line in enumerate(self.lines):
            message = self.template.format(*(values[i] for values in self.args))
            yield Problem(int(line), self.column, message)


def whole_file(message: str, column: str | None = None, line: int | None = None) -> ProblemGroup:
    """A problem that is not about individual rows (a missing column, an unreadable file)."""
    if line is None:
        return ProblemGroup(column, message, message)
    return ProblemGroup(column, message, message, np.array([line], dtype=np.int64))


class DataValidationError(ValueError):
    """The data breaks the schema; carries every problem found, not just the first."""

    def __init__(self, source: str, groups: Sequence[ProblemGroup]) -> None:
        self.source = source
        self.groups = tuple(groups)
        self.count = sum(len(group) for group in self.groups)
        super().__init__(self.report(limit=20))

    def problems(self) -> Iterator[Problem]:
        """Every problem, file-level ones first, then in line order."""
        return heapq.merge(*self.groups, key=_order)

    def report(self, limit: int = 50) -> str:
        """Human-readable: the count per rule, then the first `limit` problems in line order."""
        noun = "problem" if self.count == 1 else "problems"
        lines = [f"Invalid data in {self.source}: {self.count:,} {noun}."]
        lines.append("Per rule:")
        for group in self.groups:
            lines.append(f"  {len(group):>9,}  {group.column or '(file)'}: {group.rule}")
        shown = list(itertools.islice(self.problems(), limit))
        lines.append(f"First {len(shown)} in file order:" if shown else "")
        lines += [f"  {problem}" for problem in shown]
        if self.count > len(shown):
            lines.append(f"  ... and {self.count - len(shown):,} more not shown")
        return "\n".join(lines)


def _order(problem: Problem) -> int:
    return -1 if problem.line is None else problem.line
