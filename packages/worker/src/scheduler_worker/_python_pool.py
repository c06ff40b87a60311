"""A fixed number of reusable Python processes, each running one call at a time.

A process whose call is abandoned (timeout, cancellation) is stopped, with the session it
leads, and a fresh one takes its place, so the pool keeps its size.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import signal
from collections.abc import Awaitable
from multiprocessing.connection import Connection
from multiprocessing.context import ForkServerContext, ForkServerProcess
from typing import Any

from scheduler_worker._frames import FrameReader, write_frame
from scheduler_worker._process_group import terminate_group
from scheduler_worker._python_child import Call, Limits, Reply, serve

logger = logging.getLogger(__name__)

_POLL_SECONDS = 0.01
#: How long a SIGKILLed process gets to disappear; the kernel needs only moments.
_KILL_SETTLE_SECONDS = 5.0


class PoolClosed(Exception):
    """The pool was closed; it runs nothing more."""


class ProcessDied(Exception):
    """The pool process running a call ended without answering."""

    def __init__(self, exitcode: int | None, *, started: bool) -> None:
        if started:
            message = f"the Python process ended without answering ({_ending(exitcode)})"
        else:
            # Typically the fork server could not import the module it serves: see the stderr.
            message = f"the Python process failed to start ({_ending(exitcode)}); see the worker's log"
        super().__init__(message)
        self.exitcode = exitcode


class PoolProcess:
    """One process of the pool and the pipe to it."""

    def __init__(self, process: ForkServerProcess, connection: Connection) -> None:
        self._process = process
        self._connection = connection
        self._fd = connection.fileno()
        assert process.pid is not None  # started
        self._pid = process.pid
        self._stopping: asyncio.Task[None] | None = None
        self._exitcode: int | None = None
        self._ready = False
        self._frames = FrameReader()
        self._closed = False  # the other end closed the pipe, or `stop` did
        self._waiter: asyncio.Future[None] | None = None
        self._watched_by: asyncio.AbstractEventLoop | None = None

    @classmethod
    def start(
        cls, context: ForkServerContext, environment: dict[str, str] | None, limits: Limits
    ) -> PoolProcess:
        """Start a process, already waiting for its first call when this returns."""
        ours, theirs = context.Pipe(duplex=True)
        process = context.Process(
            target=serve,
            args=(theirs, os.getpid(), environment, limits),
            name="scheduler-python-executor",
            # As in `multiprocessing.Pool`: should the worker exit without closing the pool,
            # multiprocessing's exit handler terminates the processes instead of waiting for them.
            daemon=True,
        )
        process.start()
        theirs.close()
        return cls(process, ours)

    @property
    def pid(self) -> int:
        """The process id, which is also the id of its session and process group."""
        return self._pid

    @property
    def exitcode(self) -> int | None:
        """None while running; negative for a signal, as in `subprocess`."""
        if self._exitcode is None:
            # Polling reaps the process; once known the code is kept, as `close` forgets it.
            self._exitcode = self._process.exitcode
        return self._exitcode

    async def call(self, call: Call) -> Reply:
        """Send `call` and wait for the reply; `ProcessDied` when the process ends first."""
        try:
            write_frame(self._fd, call)
            if not self._ready:
                # The process says READY once set up, before it reads its first call.
                await self._receive()
                self._ready = True
            reply: Reply = await self._receive()
        except (EOFError, OSError) as exc:
            await self.stop(0)
            raise ProcessDied(self.exitcode, started=self._ready) from exc
        return reply

    async def _receive(self) -> Any:
        """The next message; `EOFError` once the pipe is closed and holds no more.

        The pipe is watched from the first call to the stop: a reply that arrives is read at
        once, and the caller waiting for it woken.
        """
        if not self._frames.messages and not self._closed:
            self._watch()
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        if self._frames.messages:
            return self._frames.messages.popleft()
        raise EOFError("the Python process closed its pipe")

    def _watch(self) -> None:
        if self._watched_by is None:
            self._watched_by = asyncio.get_running_loop()
            self._watched_by.add_reader(self._fd, self._readable)

    def _readable(self) -> None:
        try:
            open_ = self._frames.read_from(self._fd)
        except OSError:
            open_ = False
        except Exception:  # an answer that cannot be read: the process is of no more use
            logger.exception("unreadable answer from Python executor process %s", self._pid)
            open_ = False
        if not open_:
            self._unwatch()  # else the closed pipe reads as ready on every turn of the loop
        elif self._frames.messages:
            self._wake()

    def _unwatch(self) -> None:
        """Stop watching the pipe, and let a waiting receiver go on to find it closed."""
        self._closed = True
        if self._watched_by is not None:
            self._watched_by.remove_reader(self._fd)
            self._watched_by = None
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def stop(self, grace_seconds: float) -> None:
        """SIGTERM the process and its group, SIGKILL after `grace_seconds`; wait until gone.

        Safe to call more than once and concurrently: every caller waits for the same stop.
        """
        if self._stopping is None:
            self._stopping = asyncio.create_task(self._stop(grace_seconds))
        await asyncio.shield(self._stopping)

    async def _stop(self, grace_seconds: float) -> None:
        if self.exitcode is None:
            self._signal(signal.SIGTERM)
            self._signal(signal.SIGCONT)  # a stopped process acts on SIGTERM only once continued
            if not await self._exited_within(grace_seconds):
                self._signal(signal.SIGKILL)
                await self._exited_within(_KILL_SETTLE_SECONDS)
        # Closing the pipe under a registered reader would leave a waiting call hanging.
        self._unwatch()
        self._connection.close()
        # Whatever the function started in the process's session and left running.
        leader_gone = asyncio.get_running_loop().create_future()
        leader_gone.set_result(None)
        await terminate_group(self.pid, leader_gone, grace_seconds)
        if self.exitcode is not None:
            self._process.close()

    def _signal(self, signum: int) -> None:
        # The process itself (it may not have made its session yet), then its session's group.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(self.pid, signum)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signum)

    async def _exited_within(self, seconds: float) -> bool:
        """Poll (and so reap) the process; False if it still runs after `seconds`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while self.exitcode is None:
            if loop.time() >= deadline:
                return False
            await asyncio.sleep(_POLL_SECONDS)
        return True


class ProcessPool:
    """`size` processes started on first use; a call waits for a free one."""

    def __init__(
        self, *, size: int, kill_grace_seconds: float, environment: dict[str, str] | None, limits: Limits
    ) -> None:
        self._size = size
        self._kill_grace = kill_grace_seconds
        self._environment = environment
        self._limits = limits
        self._context = _fork_server()
        self._processes: set[PoolProcess] = set()
        # None is the closing sentinel: each waiter that takes it passes it on.
        self._idle: asyncio.Queue[PoolProcess | None] = asyncio.Queue()
        self._closed = False

    @property
    def pids(self) -> frozenset[int]:
        """The ids of the pool's processes (empty before first use and after `close`)."""
        return frozenset(process.pid for process in self._processes)

    def start(self) -> None:
        """Start the processes now rather than on first use; `OSError` if one cannot start."""
        self._fill()

    async def run(self, call: Call) -> Reply:
        """Run `call` in a free process; `PoolClosed`, `ProcessDied`, `OSError` when no process
        can be started, or the awaiting task's cancellation, after which the process running
        the call is stopped and replaced."""
        process = await self._checkout()
        try:
            reply = await process.call(call)
        except BaseException:
            await _unstoppable(self._replace(process))
            raise
        self._idle.put_nowait(process)
        return reply

    async def close(self) -> None:
        """Stop every process, busy or not, and check that none is left; the pool is then done."""
        if self._closed:
            return
        self._closed = True
        self._idle.put_nowait(None)
        processes = list(self._processes)
        await _unstoppable(self._stop_all(processes))
        alive = [process.pid for process in processes if process.exitcode is None]
        if alive:
            logger.error("Python executor processes %s outlived the pool's close", alive)
        self._processes.clear()

    async def _stop_all(self, processes: list[PoolProcess]) -> None:
        await asyncio.gather(*(process.stop(self._kill_grace) for process in processes))

    async def _checkout(self) -> PoolProcess:
        # Started on first use; topped up should a replacement have failed to start.
        self._fill()
        while True:
            process = await self._idle.get()
            if process is None:
                self._idle.put_nowait(None)
                raise PoolClosed("the Python executor is closed")
            if process.exitcode is None:
                return process
            # It ended while idle (killed from outside, out of memory): replace it.
            await _unstoppable(self._replace(process))

    async def _replace(self, process: PoolProcess) -> None:
        await process.stop(self._kill_grace)
        self._processes.discard(process)
        try:
            self._fill()
        except OSError:
            logger.exception("cannot start a Python executor process; the next run tries again")

    def _fill(self) -> None:
        while not self._closed and len(self._processes) < self._size:
            process = PoolProcess.start(self._context, self._environment, self._limits)
            self._processes.add(process)
            self._idle.put_nowait(process)


def _fork_server() -> ForkServerContext:
    """Processes forked by multiprocessing's fork server, which has imported only the child's side.

    Forking from it takes milliseconds (a `spawn` starts a fresh interpreter and re-imports the
    worker's main module), and the processes share its pages, so a pool of twenty costs little
    memory. The server is started on first use from this process's `sys.path` and working
    directory, and exits with this process.
    """
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([serve.__module__])
    return context


async def _unstoppable(work: Awaitable[None]) -> None:
    """Await `work` to its end even if the awaiting task is cancelled meanwhile, then raise
    that `CancelledError`: a cancellation must not leave a process running, nor be lost."""
    task = asyncio.ensure_future(work)
    cancelled = False
    while not task.done():
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            cancelled = True
    task.result()
    if cancelled:
        raise asyncio.CancelledError


def _ending(exitcode: int | None) -> str:
    if exitcode is None:
        return "still running"
    if exitcode < 0:
        return f"killed by signal {-exitcode}"
    return f"exit code {exitcode}"
