"""What a piece of work got from the machine: its CPU time, and the share the hypervisor took.

On a virtual machine whose physical cores other tenants share, the same training costs
about the same CPU time each run, but its wall time follows the hypervisor's steal: the time a
vCPU was ready to run and was given no core (the `steal` column of Linux's /proc/stat).
Recording both beside a training's duration tells a slow host from slow code.
"""

import os
import time
from dataclasses import dataclass
from pathlib import Path

PROC_STAT = Path("/proc/stat")
_STEAL_COLUMN = 7  # user nice system idle iowait irq softirq steal (guest is inside user)


@dataclass(frozen=True)
class UsageMark:
    """A point in time: wall clock, this process's CPU time, the machine's CPU ticks."""

    wall: float
    cpu: float
    ticks: tuple[int, int] | None  # (steal, total) over all CPUs; None if unreadable


@dataclass(frozen=True)
class HostUsage:
    """CPU time a process used over a wall time, and the machine's steal meanwhile."""

    wall_seconds: float
    cpu_seconds: float  # the process's user + system time, all threads
    cpus: int
    steal_fraction: float | None  # of all CPUs' time; None where /proc/stat is not readable

    @property
    def cpus_busy(self) -> float:
        """Average number of CPUs the process kept busy."""
        return self.cpu_seconds / self.wall_seconds if self.wall_seconds > 0 else 0.0

    def describe(self) -> str:
        """E.g. `1.2 of 2 CPUs busy, 24% of the CPU time taken by the hypervisor`."""
        text = f"{self.cpus_busy:.1f} of {self.cpus} CPUs busy"
        if self.steal_fraction is not None:
            text += f", {self.steal_fraction:.0%} of the CPU time taken by the hypervisor"
        return text


def mark(proc_stat: Path = PROC_STAT) -> UsageMark:
    """Where the clocks stand now."""
    return UsageMark(time.perf_counter(), time.process_time(), _read_ticks(proc_stat))


def usage_since(start: UsageMark, proc_stat: Path = PROC_STAT) -> HostUsage:
    """What the process used, and what the hypervisor took, since `start`."""
    end = mark(proc_stat)
    steal_fraction = None
    if start.ticks is not None and end.ticks is not None:
        total = end.ticks[1] - start.ticks[1]
        if total > 0:
            steal_fraction = (end.ticks[0] - start.ticks[0]) / total
    return HostUsage(end.wall - start.wall, end.cpu - start.cpu, _cpus(), steal_fraction)


def _read_ticks(proc_stat: Path) -> tuple[int, int] | None:
    """(steal, total) ticks of the aggregate `cpu` line, or None."""
    try:
        first = proc_stat.read_text().splitlines()[0].split()
        counters = [int(value) for value in first[1 : _STEAL_COLUMN + 2]]
    except (OSError, IndexError, ValueError):
        return None
    if first[0] != "cpu" or len(counters) <= _STEAL_COLUMN:
        return None
    return counters[_STEAL_COLUMN], sum(counters)


def _cpus() -> int:
    """CPUs this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1
