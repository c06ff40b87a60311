"""The side of the Python executor that runs in a pool process: calls functions, one at a time.

Everything here runs in the child, forked by multiprocessing's fork server; the messages are
plain dataclasses of built-in values, pickled over a pipe (`_frames`).
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import json
import os
import signal
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from scheduler_worker._frames import FrameReader, write_frame

#: The keyword arguments a function gets when its signature names them. Not through `**kwargs`:
#: such functions often pass them on (`json.dumps`, `textwrap.shorten`), which would break.
RUN_ID_ARGUMENT = "scheduler_run_id"
ATTEMPT_ARGUMENT = "scheduler_attempt"
#: What a pool process sends once it is set up, before it reads its first call.
READY = "ready"
#: How often a pool process checks that the worker that started it is still there.
_ORPHAN_CHECK_SECONDS = 0.5


@dataclass(frozen=True, slots=True)
class Call:
    """Call `module:function` with `arguments` for one run attempt."""

    module: str
    function: str
    arguments: dict[str, Any]
    run_id: int
    task_id: int
    attempt: int

    @property
    def target(self) -> str:
        """`module:function`, as the task names it."""
        return f"{self.module}:{self.function}"


@dataclass(frozen=True, slots=True)
class Returned:
    """The function returned `value`, JSON-shaped, or its JSON text cut short when `truncated`."""

    value: Any
    truncated: bool = False


@dataclass(frozen=True, slots=True)
class Raised:
    """The function raised; `traceback` is its tail, cut to the limit."""

    exception_type: str
    message: str
    traceback: str


@dataclass(frozen=True, slots=True)
class Unusable:
    """The function could not be called at all: not importable, or not with these arguments."""

    reason: str


Reply = Returned | Raised | Unusable


@dataclass(frozen=True, slots=True)
class Limits:
    """How much of a return value and of a traceback a reply keeps."""

    result_bytes: int
    traceback_chars: int


def serve(
    connection: Connection, worker_pid: int, environment: dict[str, str] | None, limits: Limits
) -> None:
    """The pool process's main loop: answer each `Call` until the worker closes the pipe."""
    # A session of its own: stopping this process can stop whatever the function started, and
    # a Ctrl-C at the worker's terminal reaches the worker only, which decides what to stop.
    os.setsid()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if environment is not None:
        os.environ.clear()
        os.environ.update(environment)
    _exit_when_orphaned(worker_pid)
    fd = connection.fileno()  # `connection` stays referenced: closing it would close the pipe
    write_frame(fd, READY)
    frames = FrameReader()
    while True:
        try:
            call = frames.next_message(fd)
        except (EOFError, OSError):
            return
        write_frame(fd, answer(call, limits))


def answer(call: Call, limits: Limits) -> Reply:
    """Run `call` here and say how it went; never raises for a failure of the function."""
    try:
        function = _resolve(call)
        arguments = _arguments(function, call)
    except _Unusable as exc:
        return Unusable(str(exc))
    with _run_identity(call):
        try:
            value = function(**arguments)
            if inspect.iscoroutine(value):
                value = asyncio.run(value)
        except BaseException as exc:  # SystemExit too is a result of the function
            return _raised(exc, limits.traceback_chars)
    return _returned(value, limits.result_bytes)


class _Unusable(Exception):
    pass


def _resolve(call: Call) -> Callable[..., Any]:
    try:
        found: Any = importlib.import_module(call.module)
    except BaseException as exc:  # a module may raise anything while importing
        raise _Unusable(f"cannot import {call.module}: {_describe(exc)}") from exc
    for attribute in call.function.split("."):
        try:
            found = getattr(found, attribute)
        except AttributeError:
            raise _Unusable(f"{call.target} does not exist ({attribute!r} not found)") from None
    if not callable(found):
        raise _Unusable(f"{call.target} is not callable")
    return found  # type: ignore[no-any-return]


def _arguments(function: Callable[..., Any], call: Call) -> dict[str, Any]:
    """The task's arguments, plus the run identity where the signature asks for it."""
    arguments = dict(call.arguments)
    signature = _signature(call.target, function)
    if signature is None:  # some built-ins have none: pass the task's arguments only
        return arguments
    identity = {RUN_ID_ARGUMENT: call.run_id, ATTEMPT_ARGUMENT: call.attempt}
    arguments.update({name: value for name, value in identity.items() if _accepts(signature, name)})
    try:
        signature.bind(**arguments)
    except TypeError as exc:
        raise _Unusable(f"{call.target} cannot take these arguments: {exc}") from exc
    return arguments


#: The signature of each target this process has called, with the function it was read from:
#: reading one costs more than the call of a small function.
_signatures: dict[str, tuple[Callable[..., Any], inspect.Signature | None]] = {}


def _signature(target: str, function: Callable[..., Any]) -> inspect.Signature | None:
    """`function`'s signature (None when it has none), read once per target and function."""
    known = _signatures.get(target)
    if known is not None and known[0] is function:
        return known[1]
    try:
        signature: inspect.Signature | None = inspect.signature(function)
    except (TypeError, ValueError):
        signature = None
    _signatures[target] = (function, signature)
    return signature


def _accepts(signature: inspect.Signature, name: str) -> bool:
    keyword = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return name in signature.parameters and signature.parameters[name].kind in keyword


@contextmanager
def _run_identity(call: Call) -> Iterator[None]:
    """`SCHEDULER_RUN_ID`, `SCHEDULER_TASK_ID` and `SCHEDULER_ATTEMPT` for the length of the call."""
    values = {
        "SCHEDULER_RUN_ID": str(call.run_id),
        "SCHEDULER_TASK_ID": str(call.task_id),
        "SCHEDULER_ATTEMPT": str(call.attempt),
    }
    before = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        _restore(before)


def _restore(before: Mapping[str, str | None]) -> None:
    for name, value in before.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def _returned(value: object, limit: int) -> Returned:
    """`value` as JSON data; its repr when it is not JSON-encodable; its text cut past `limit`."""
    try:
        text = json.dumps(value)
    except (TypeError, ValueError, RecursionError):
        text = json.dumps(_safe_repr(value))
    if len(text.encode()) > limit:
        return Returned(value=text.encode()[:limit].decode(errors="ignore"), truncated=True)
    return Returned(value=json.loads(text))


def _raised(exc: BaseException, limit: int) -> Raised:
    # Drop the frame of `answer` itself: the traceback starts in the task's code.
    start = exc.__traceback__.tb_next if exc.__traceback__ is not None else None
    text = "".join(traceback.format_exception(type(exc), exc, start))
    if len(text) > limit:
        text = "...\n" + text[-limit:]
    return Raised(exception_type=_type_name(type(exc)), message=_safe_str(exc), traceback=text)


def _describe(exc: BaseException) -> str:
    return f"{_type_name(type(exc))}: {_safe_str(exc)}"


def _type_name(kind: type[BaseException]) -> str:
    return kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"


def _safe_str(exc: BaseException) -> str:
    try:
        return str(exc)
    except Exception:  # a broken __str__ must not lose the report
        return f"<unprintable {type(exc).__name__}>"


def _safe_repr(value: object) -> str:
    try:
        return repr(value)
    except Exception:  # a broken __repr__ must not lose the result
        return f"<unrepresentable {type(value).__name__}>"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, under another user: not the worker, which is gone
        return False
    return True


def _exit_when_orphaned(worker_pid: int) -> None:
    """Stop this process and its session when the worker disappears (even by SIGKILL).

    The fork server that is this process's parent exits as soon as the worker does (its end of
    a pipe closes even before the worker is reaped), so a new parent means the worker is gone.
    """
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent and _alive(worker_pid):
            time.sleep(_ORPHAN_CHECK_SECONDS)
        os.killpg(os.getpgid(0), signal.SIGKILL)

    threading.Thread(target=watch, name="orphan-watch", daemon=True).start()
