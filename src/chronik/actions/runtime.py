"""Runs user actions, hostile by assumption, in a small pool of sandbox worker processes.

Each run gets a fresh QuickJS context in a worker (``sandbox.py``) with its own memory, stack
and CPU-time limits; this side adds a wall-clock deadline, enforced by killing the worker, and
keeps the pool at its size by starting a replacement in the background. Which run gets which
worker is the pool's (``pool.py``): one tenant's long runs do not hold up another's. Runs never
block the event loop; a run's clock starts when it is sent, not while it waits for a worker.

A worker runs hostile code in its own process, so what it answers is held to every limit again
here: the log lines and their length, the fields (only where the trigger lets a script set any)
and their size.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
import signal
import struct
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import msgspec

from chronik.actions.pool import Pool
from chronik.errors import InvalidArgument
from chronik.hosts import allowed_host

logger = logging.getLogger(__name__)

Trigger = Literal["pre_append", "post_append", "on_fire", "test"]
Outcome = Literal["succeeded", "failed", "rejected", "timed_out", "out_of_memory", "crashed"]

SANDBOX = Path(__file__).with_name("sandbox.py")
HEADER = struct.Struct(">I")
# The worker answers within the timeout on its own; this is the pipe and scheduling margin.
DEADLINE_SLACK = 0.03
CHECK_DEADLINE = 5.0
RESPAWN_DELAY = 1.0
STARTUP_TIMEOUT = 30.0
# What a run's answer may add to result_bytes: the outcome, a short error and the envelope.
ANSWER_SLACK = 64 * 1024
ERROR_CHARS = 2000
RESERVED_WORDS = (
    " await break case catch class const continue debugger default delete do else enum export"
    " extends false finally for function if implements import in instanceof interface let new"
    " null package private protected public return static super switch this throw true try"
    " typeof var void while with yield "
)


class LogLine(msgspec.Struct, frozen=True):
    level: Literal["debug", "info", "warn", "error"]
    message: str


class Run(msgspec.Struct, frozen=True, kw_only=True):
    """What one run of an action did."""

    outcome: Outcome
    error: str = ""
    fields: dict[str, Any] = msgspec.field(default_factory=dict)
    logs: tuple[LogLine, ...] = ()
    logs_dropped: int = 0
    duration: float


@dataclass(frozen=True, slots=True)
class Limits:
    memory_bytes: int = 64 * 1024 * 1024
    stack_bytes: int = 512 * 1024
    log_lines: int = 100
    log_line_chars: int = 2000
    result_bytes: int = 1024 * 1024


@dataclass(frozen=True, slots=True)
class HttpPolicy:
    """Where ``http.fetch`` may go: ``hosts`` are ``host[:port]`` (a bare host means its
    scheme's default port, 80 or 443); no address of this machine is reachable on
    ``own_port``, Chronik's own, whatever ``hosts`` says."""

    hosts: tuple[str, ...] = ()
    timeout: float = 5.0
    max_bytes: int = 1024 * 1024
    own_port: int | None = None


def is_identifier(name: str) -> bool:
    """Whether ``function <name>(...)`` declares it; Python's rule is JavaScript's but for $."""
    return name.replace("$", "_").isidentifier() and f" {name} " not in RESERVED_WORDS


class _RunAnswer(msgspec.Struct):
    outcome: Outcome
    error: str = ""
    fields: str = "{}"
    """The JSON text of the fields the script set."""
    logs: tuple[LogLine, ...] = ()
    logs_dropped: Annotated[int, msgspec.Meta(ge=0)] = 0


class _CheckAnswer(msgspec.Struct):
    problem: str | None


_Answer = TypeVar("_Answer", _RunAnswer, _CheckAnswer)


@dataclass(frozen=True, slots=True)
class _Failure:
    """Why a request got no answer from its worker."""

    outcome: Literal["timed_out", "crashed"]
    error: str


class _Unreadable(Exception):
    """The worker's answer is not a frame this side can read."""


def _amount(size: int) -> str:
    mib = 1024 * 1024
    return f"{size // mib} MiB" if size % mib == 0 else f"{size} bytes"


def _timed_out(timeout: float) -> str:
    return f"the action ran longer than its timeout of {timeout:g}s"


def _logs(answer: _RunAnswer, limits: Limits) -> tuple[tuple[LogLine, ...], int]:
    """The run's log lines within the limits, and how many were dropped."""
    kept = answer.logs[: limits.log_lines]
    chars = limits.log_line_chars
    if any(len(line.message) > chars for line in kept):
        kept = tuple(LogLine(line.level, line.message[:chars]) for line in kept)
    return kept, answer.logs_dropped + len(answer.logs) - len(kept)


def _fields(text: str, limit: int) -> tuple[dict[str, Any], str]:
    """The fields a run set, or why they cannot be taken: each must be JSON the log can hold."""
    if len(text.encode("utf-8", "replace")) > limit:
        return {}, f"the action's result is larger than {limit} bytes"
    try:
        return msgspec.json.decode(text, type=dict[str, Any]), ""
    except RecursionError:
        return {}, "the fields the action set nest too deeply to be read"
    except (msgspec.DecodeError, msgspec.ValidationError):
        pass
    try:  # a lone surrogate is what JavaScript's JSON holds and this side's does not
        loose = json.loads(text)
    except (ValueError, RecursionError):
        loose = None
    for name, value in loose.items() if isinstance(loose, dict) else ():
        try:
            _encode_json({name: value})
        except UnicodeEncodeError:
            return {}, f"api.setField: {name!r} holds an unpaired surrogate, which JSON may not"
    return {}, "the fields the action set are not a JSON object"


_encode_json = msgspec.json.Encoder().encode


class _Worker:
    """One sandbox process, spoken to one frame at a time."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    @classmethod
    async def start(cls, max_frame: int) -> _Worker:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            str(SANDBOX),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        worker = cls(process)
        try:
            async with asyncio.timeout(STARTUP_TIMEOUT):
                await worker.receive(max_frame)
        except BaseException:
            await worker.stop()
            raise
        return worker

    @property
    def alive(self) -> bool:
        return self.process.returncode is None

    async def exchange(self, body: bytes, max_frame: int) -> bytes:
        assert self.process.stdin is not None
        self.process.stdin.write(HEADER.pack(len(body)) + body)
        await self.process.stdin.drain()
        return await self.receive(max_frame)

    async def receive(self, max_frame: int) -> bytes:
        assert self.process.stdout is not None
        (length,) = HEADER.unpack(await self.process.stdout.readexactly(HEADER.size))
        if length > max_frame:
            raise _Unreadable(f"a frame of {length} bytes")
        return await self.process.stdout.readexactly(length)

    def kill(self) -> None:
        # Not Process.kill: its poll() could reap the child behind the event loop's watcher.
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.process.pid, signal.SIGKILL)

    async def stop(self) -> int:
        """Kill the process and reap it; its exit code."""
        self.kill()
        if self.process.stdin is not None:
            self.process.stdin.close()
        return await self.process.wait()


class Runtime:
    """A pool of warm sandbox workers that run actions; call :meth:`close` when done.

    ``burst``: workers the pool may start beyond ``workers`` so that a tenant with no run
    going need not wait for other tenants' runs to end (see ``pool.py``)."""

    def __init__(
        self,
        *,
        workers: int = 2,
        burst: int = 0,
        limits: Limits = Limits(),
        http: HttpPolicy = HttpPolicy(),
    ) -> None:
        self._limits = limits
        self._http = {
            "hosts": sorted({allowed_host(entry) for entry in http.hosts}, key=str),
            "own_ports": [] if http.own_port is None else [http.own_port],
            "timeout": http.timeout,
            "max_bytes": http.max_bytes,
        }
        self._max_frame = limits.result_bytes + ANSWER_SLACK
        self._pool = Pool(self._start_worker, size=workers, burst=burst)
        self._limits_json = asdict(limits)
        self._encode = msgspec.json.Encoder().encode
        self._run_answer = msgspec.json.Decoder(_RunAnswer).decode
        self._check_answer = msgspec.json.Decoder(_CheckAnswer).decode

    @property
    def worker_pids(self) -> tuple[int, ...]:
        """The process ids of the live workers, busy or idle."""
        return tuple(worker.process.pid for worker in self._pool.workers)

    @property
    def running(self) -> dict[str, int]:
        """Runs going now, by tenant (``key``)."""
        return self._pool.running

    async def run(
        self,
        name: str,
        script: str,
        *,
        timeout: float,
        ctx: dict[str, Any],
        trigger: Trigger,
        key: str = "",
    ) -> Run:
        """Run `script`, then call its global function named `name` with (ctx, api).

        ``key`` (the tenant) is whose run it is: the pool shares its workers out by it."""
        request = {
            "kind": "run",
            "name": name,
            "identifier": is_identifier(name),
            "script": script,
            "timeout": timeout,
            "ctx": ctx,
            "trigger": trigger,
            "limits": self._limits_json,
            "http": self._http,
            "seed": [secrets.randbits(32) for _ in range(4)],
        }
        answer, duration = await self._exchange(request, timeout, self._run_answer, key)
        if isinstance(answer, _Failure):
            if answer.outcome == "timed_out":
                return Run(outcome="timed_out", error=_timed_out(timeout), duration=duration)
            return Run(outcome="crashed", error=answer.error, duration=duration)
        outcome, error = answer.outcome, answer.error[:ERROR_CHARS]
        fields: dict[str, Any] = {}
        if outcome == "succeeded" and trigger != "post_append":
            fields, problem = _fields(answer.fields, self._limits.result_bytes)
            if problem:
                outcome, error = "failed", problem
        elif outcome == "timed_out":
            error = _timed_out(timeout)
        elif outcome == "out_of_memory":
            error = f"the action used more than its {_amount(self._limits.memory_bytes)} of memory"
        logs, dropped = _logs(answer, self._limits)
        return Run(
            outcome=outcome,
            error=error,
            fields=fields,
            logs=logs,
            logs_dropped=dropped,
            duration=duration,
        )

    async def check(self, script: str) -> str | None:
        """Compile without running: None if it parses, else "SyntaxError: ... (line L, column C)"
        with the user's own line numbers."""
        request = {"kind": "check", "script": script, "limits": self._limits_json}
        answer, _ = await self._exchange(request, CHECK_DEADLINE, self._check_answer)
        if isinstance(answer, _Failure):
            if answer.outcome == "timed_out":
                return f"the script could not be compiled within {CHECK_DEADLINE:g}s"
            return f"the script could not be checked: {answer.error}"
        return answer.problem

    async def close(self) -> None:
        """Kill the workers and wait for them to exit; runs still waiting for one fail."""
        await self._pool.close()

    async def _exchange(
        self,
        request: dict[str, Any],
        timeout: float,
        decode: Callable[[bytes], _Answer],
        key: str = "",
    ) -> tuple[_Answer | _Failure, float]:
        """Send one request to an idle worker: its decoded answer, or why there is none, and the
        seconds from sending to the answer or the kill."""
        try:
            body = self._encode(request)
        except (TypeError, ValueError, msgspec.EncodeError) as exc:
            raise InvalidArgument(
                f"what the action is given cannot be encoded as JSON: {exc}"
            ) from None
        worker = await self._pool.acquire(key)
        started = time.monotonic()
        try:
            async with asyncio.timeout(timeout + DEADLINE_SLACK):
                frame = await worker.exchange(body, self._max_frame)
            answer = decode(frame)
        except TimeoutError:
            duration = time.monotonic() - started
            self._pool.discard(worker)
            return _Failure("timed_out", ""), duration
        except (_Unreadable, msgspec.ValidationError, msgspec.DecodeError):
            duration = time.monotonic() - started
            self._pool.discard(worker)
            error = "the action's worker process sent an answer that could not be read"
            return _Failure("crashed", error), duration
        except (OSError, asyncio.IncompleteReadError):
            duration = time.monotonic() - started
            self._pool.discard(worker)
            error = f"the action's worker process died (exit code {await worker.stop()})"
            return _Failure("crashed", error), duration
        except BaseException:
            # Cancelled mid-exchange: its answer may still be on the way, so the worker goes.
            self._pool.discard(worker)
            raise
        duration = time.monotonic() - started
        self._pool.release(worker)
        return answer, duration

    async def _start_worker(self) -> _Worker:
        while True:
            try:
                return await _Worker.start(self._max_frame)
            except (OSError, asyncio.IncompleteReadError, _Unreadable):
                logger.exception("could not start an action worker; retrying")
                await asyncio.sleep(RESPAWN_DELAY)
