"""Process measurement helpers shared by the benchmark scripts (Linux only, read from /proc).

* `MemorySampler(pid, interval=0.02)`: a daemon thread samples, every `interval` seconds, the
  resident set size (`VmRSS` of /proc/<pid>/status) of a root process and of every process
  descended from it. `peak_main_mb` is the largest RSS of the root alone (also max'ed with the
  root's `VmHWM`, its kernel-tracked high-water mark, read at `stop()` if it is still alive);
  `peak_tree_mb` is the largest per-sample sum of RSS over the root and its descendants. RSS counts
  pages shared between a parent and its forked children once per process, so the tree figure is
  an upper bound on the memory the tree really holds; `peak_tree_pss_mb` is the peak of the
  tree's summed PSS (`Pss` of /proc/<pid>/smaps_rollup, every 10th sample), which divides each
  shared page among its sharers: the memory the tree really holds. MB is 1024 * 1024 bytes.
* `cpu_seconds(pid)`: utime + stime + cutime + cstime of a live process, in seconds (the `c`
  fields count only children that have exited and been waited for; see `tree_cpu_seconds` to
  include live descendants).
* `tree_cpu_seconds(pid)`: `cpu_seconds` summed over a process and its live descendants.
* `descendants(pid)`: the pids of a process's live descendants.
* `wait_until(predicate, timeout)`: poll until the predicate is truthy, or raise TimeoutError.
* `percentile(values, q)`: linear interpolation between closest ranks (numpy's default).

Descendants are found through /proc/<pid>/task/<tid>/children when the kernel provides it
(CONFIG_PROC_CHILDREN), else by scanning the parent pid of every /proc/<n>/stat. Processes that
vanish mid-read are skipped.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from types import TracebackType
from typing import Self, TypeVar

T = TypeVar("T")

_PROC = Path("/proc")
_TICKS = os.sysconf("SC_CLK_TCK")
_MB = 1024 * 1024
_HAS_CHILDREN_FILE = (_PROC / "self" / "task" / str(os.getpid()) / "children").exists()


def _stat_fields(pid: int) -> list[str]:
    """The fields of /proc/<pid>/stat after `comm` (which may hold spaces): index 0 is field 3."""
    raw = (_PROC / str(pid) / "stat").read_bytes()
    return raw[raw.rindex(b")") + 2 :].decode().split()


def _status_kb(pid: int, field: str) -> int | None:
    """A `kB` field of /proc/<pid>/status, or None if the process is gone (or has no such field)."""
    try:
        with open(_PROC / str(pid) / "status", "rb") as f:
            prefix = field.encode() + b":"
            for line in f:
                if line.startswith(prefix):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    return None


def _children_via_task_files(pid: int) -> list[int]:
    children: list[int] = []
    try:
        tasks = list((_PROC / str(pid) / "task").iterdir())
    except (FileNotFoundError, ProcessLookupError):
        return children
    for task in tasks:
        try:
            children.extend(int(c) for c in (task / "children").read_text().split())
        except (FileNotFoundError, ProcessLookupError):
            continue
    return children


def _parent_map() -> dict[int, list[int]]:
    """ppid -> child pids, from one scan of /proc/*/stat."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir(_PROC):
        if not entry.isdigit():
            continue
        try:
            ppid = int(_stat_fields(int(entry))[1])
        except (FileNotFoundError, ProcessLookupError, ValueError, IndexError):
            continue
        parents.setdefault(ppid, []).append(int(entry))
    return parents


def descendants(pid: int) -> list[int]:
    """The pids of the live descendants of `pid` (children, grandchildren, ...), not `pid` itself."""
    found: list[int] = []
    if _HAS_CHILDREN_FILE:
        pending = _children_via_task_files(pid)
        while pending:
            child = pending.pop()
            if child in found:
                continue
            found.append(child)
            pending.extend(_children_via_task_files(child))
        return found
    parents = _parent_map()
    pending = list(parents.get(pid, ()))
    while pending:
        child = pending.pop()
        found.append(child)
        pending.extend(parents.get(child, ()))
    return found


def cpu_seconds(pid: int) -> float:
    """utime + stime + cutime + cstime of a live process, in seconds (raises if it is gone)."""
    fields = _stat_fields(pid)
    # Fields 14-17 of proc(5): utime, stime, cutime, cstime; index 0 here is field 3.
    return sum(int(v) for v in fields[11:15]) / _TICKS


def tree_cpu_seconds(pid: int) -> float:
    """`cpu_seconds` of `pid` plus that of each of its live descendants (vanishing ones are skipped)."""
    total = cpu_seconds(pid)
    for child in descendants(pid):
        try:
            total += cpu_seconds(child)
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


def wait_until(
    predicate: Callable[[], T], timeout: float, interval: float = 0.005, what: str = "condition"
) -> T:
    """Call `predicate` every `interval` seconds until it returns a truthy value, and return that value.

    Raises TimeoutError naming `what` if it is still falsy after `timeout` seconds.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        now = time.monotonic()
        if now >= deadline:
            raise TimeoutError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(min(interval, deadline - now))


def percentile(values: Iterable[float], q: float) -> float:
    """The `q`-th percentile (0 <= q <= 100) by linear interpolation between closest ranks.

    This is numpy's default ("linear") method: the value at rank (n - 1) * q / 100 of the sorted
    values, interpolated between the two neighbouring ranks.
    """
    ordered = sorted(values)
    if not ordered:
        raise ValueError("percentile of no values")
    if not 0 <= q <= 100:
        raise ValueError(f"percentile q must be in [0, 100], got {q}")
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


#: Every how many samples the tree's PSS is read as well.
PSS_EVERY = 10


def _pss_kb(pid: int) -> int:
    """`Pss` of /proc/<pid>/smaps_rollup in kB (0 if the process is gone)."""
    try:
        with open(_PROC / str(pid) / "smaps_rollup", encoding="ascii") as rollup:
            for line in rollup:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        return 0
    return 0


class MemorySampler:
    """Peak RSS of a process and of the process tree under it, sampled from a daemon thread.

    Use as a context manager, or call `start()` and `stop()`.
    """

    def __init__(self, pid: int, interval: float = 0.02) -> None:
        self.pid = pid
        self.interval = interval
        self.samples = 0
        self._peak_main_kb = 0
        self._peak_tree_kb = 0
        self._peak_tree_pss_kb = 0
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def sample(self) -> None:
        """Take one sample now (the thread calls this every `interval`)."""
        main = _status_kb(self.pid, "VmRSS")
        if main is None:
            return
        tree = main
        children = descendants(self.pid)
        for child in children:
            tree += _status_kb(child, "VmRSS") or 0
        self._peak_main_kb = max(self._peak_main_kb, main)
        self._peak_tree_kb = max(self._peak_tree_kb, tree)
        if self.samples % PSS_EVERY == 0:  # the kernel walks every page for it: not every time
            pss = sum(_pss_kb(pid) for pid in (self.pid, *children))
            self._peak_tree_pss_kb = max(self._peak_tree_pss_kb, pss)
        self.samples += 1

    def _run(self) -> None:
        while not self._stopping.is_set():
            self.sample()
            self._stopping.wait(self.interval)

    def start(self) -> Self:
        if self._thread is not None:
            raise RuntimeError("MemorySampler already started")
        self._thread = threading.Thread(target=self._run, name=f"memory-sampler-{self.pid}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop the thread, taking a last sample and the root's VmHWM if it is still alive."""
        if self._thread is None:
            return
        self._stopping.set()
        self._thread.join()
        self._thread = None
        self.sample()
        hwm = _status_kb(self.pid, "VmHWM")
        if hwm is not None:
            self._peak_main_kb = max(self._peak_main_kb, hwm)

    @property
    def peak_main_mb(self) -> float:
        return self._peak_main_kb * 1024 / _MB

    @property
    def peak_tree_mb(self) -> float:
        return self._peak_tree_kb * 1024 / _MB

    @property
    def peak_tree_pss_mb(self) -> float:
        """Peak proportional set size of the tree: each shared page divided among its sharers,
        so forked processes are not counted once each for the pages they share."""
        return self._peak_tree_pss_kb * 1024 / _MB

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def w1_figures(
    *,
    tasks: int,
    enqueue_seconds: float,
    first_seen: int,
    drain_seconds: float,
    memory: MemorySampler,
    cpu: float,
) -> dict[str, float]:
    """W1's figures, named alike for both systems: enqueue and drain rates (the drain from the
    first end seen, `first_seen` runs done then), the worker's memory peaks and its CPU."""
    return {
        "enqueue_per_s": tasks / enqueue_seconds,
        "drain_per_s": (tasks - first_seen) / drain_seconds,
        "drain_seconds": drain_seconds,
        "peak_rss_main_mb": memory.peak_main_mb,
        "peak_rss_tree_mb": memory.peak_tree_mb,
        "peak_pss_tree_mb": memory.peak_tree_pss_mb,
        "worker_cpu_seconds": cpu,
    }
