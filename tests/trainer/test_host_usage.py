"""What a training got from the machine: the process's CPU time and the hypervisor's steal."""

import time
from pathlib import Path

import pytest

from trainer.host_usage import HostUsage, mark, usage_since

# /proc/stat's aggregate line: user nice system idle iowait irq softirq steal guest guest_nice
_BEFORE = "cpu  1000 0 100 800 0 0 0 100 0 0\ncpu0 500 0 50 400 0 0 0 50 0 0\n"
_AFTER = "cpu  1600 0 200 1000 0 0 0 200 0 0\ncpu0 800 0 100 500 0 0 0 100 0 0\n"


def test_steal_is_the_share_of_all_cpu_ticks_between_the_marks(tmp_path: Path) -> None:
    stat = tmp_path / "stat"
    stat.write_text(_BEFORE)
    start = mark(stat)
    stat.write_text(_AFTER)
    usage = usage_since(start, stat)
    # ticks grew by 600 + 100 + 200 + 100 = 1,000, of which 100 were stolen
    assert usage.steal_fraction == pytest.approx(0.1)


def test_cpu_time_is_the_process_own_and_wall_time_the_clock() -> None:
    start = mark()
    while time.process_time() < start.cpu + 0.2:  # keep one CPU busy for 0.2 s of CPU
        pass
    time.sleep(0.2)  # then rest: wall time only
    usage = usage_since(start)
    assert usage.cpu_seconds >= 0.2
    assert usage.wall_seconds >= usage.cpu_seconds + 0.15
    assert usage.cpus >= 1


@pytest.mark.parametrize(
    "content", [None, "", "intr 1 2 3\n", "cpu  1 2 x 4 5 6 7 8\n", "cpu  1 2\n"]
)
def test_steal_is_unknown_where_the_counters_are_not_readable(
    tmp_path: Path, content: str | None
) -> None:
    stat = tmp_path / "stat"
    if content is not None:
        stat.write_text(content)
    usage = usage_since(mark(stat), stat)
    assert usage.steal_fraction is None
    assert "hypervisor" not in usage.describe()


def test_description_names_busy_cpus_and_the_hypervisors_share() -> None:
    usage = HostUsage(wall_seconds=100.0, cpu_seconds=120.0, cpus=2, steal_fraction=0.24)
    assert usage.cpus_busy == pytest.approx(1.2)
    assert usage.describe() == "1.2 of 2 CPUs busy, 24% of the CPU time taken by the hypervisor"
