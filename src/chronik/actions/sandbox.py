"""The worker process of the action runtime: one request at a time, each in a fresh QuickJS context.

``chronik.actions.runtime`` starts this file as a plain script, so it imports only the standard
library and ``quickjs``, never the ``chronik`` package. Frames on stdin and stdout are a 4-byte
big-endian length and a JSON document; the first frame written says the worker is ready.

The engine measures its time limit in CPU time of the whole process, which is this run's alone
because a worker runs one request at a time; the parent enforces the wall-clock deadline by
killing the process. No Python function is ever exposed to JavaScript: data crosses as JSON
strings, through the one host function the prelude's script evaluates to. What the script can
touch is never trusted: the worker decides what a fetch returned (its replies carry a key the
script never sees), and the parent enforces every limit again on this process's answer.
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import os
import re
import secrets
import socket
import ssl
import struct
import time
import urllib.parse
from pathlib import Path
from typing import IO, Any

import quickjs

HEADER = struct.Struct(">I")
LOCATION = re.compile(r"<input>:(\d+):(\d+)")
ERROR_CHARS = 1000
CHECK_SECONDS = 1.0
# A script is compiled, not run, by evaluating it behind a first line that throws: the whole
# script is parsed before any of it runs (a syntax error is reported where it is, which
# new Function() would place past the end of a body that leaves a brace open).
COMPILED = "__chronik_compiled__"
COMPILE_PREFIX = f"throw {COMPILED!r};\n"
BODY_LINE_SHIFT = 1
# Room to read back the logs of a run that ran out of memory; no user code runs in it.
COLLECT_HEADROOM = 16 * 1024 * 1024
DEFAULT_PORTS = {"http": 80, "https": 443}
PEAK_FILE = "/proc/self/status"
PEAK = re.compile(r"VmHWM:\s*(\d+) kB")


class Budget:
    """The time a run has left: CPU time for JavaScript, wall time for the network."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.cpu = time.process_time()
        self.wall = time.monotonic()

    def cpu_left(self) -> float:
        return max(0.001, self.seconds - (time.process_time() - self.cpu))

    def wall_left(self) -> float:
        return self.seconds - (time.monotonic() - self.wall)


class Peak:
    """How far this process's resident memory rose during one run (Linux; None elsewhere).

    The engine throws null when it cannot even allocate its out-of-memory error, and so does a
    script's ``throw null``; by the time either reaches the host the run's memory is freed, so
    only this high-water mark tells them apart."""

    def __init__(self) -> None:
        try:
            with open("/proc/self/clear_refs", "w") as reset:
                reset.write("5")  # the high-water mark starts again from the current size
            self.start: int | None = self.now()
        except OSError:
            self.start = None

    @staticmethod
    def now() -> int | None:
        with open(PEAK_FILE, encoding="ascii") as status:
            found = PEAK.search(status.read())
        return int(found[1]) * 1024 if found else None

    def rise(self) -> int | None:
        if self.start is None:
            return None
        try:
            peak = self.now()
        except OSError:
            return None
        return None if peak is None else peak - self.start


def located(message: str, stack: str, shift: int = 0) -> str:
    """The first line of an error, with the first place in the script its stack names."""
    first = message.split("\n", 1)[0][:ERROR_CHARS]
    match = LOCATION.search(stack)
    if match is None:
        return first
    return f"{first} (line {int(match[1]) - shift}, column {match[2]})"


def unreadable(script: str) -> str | None:
    """Why the engine cannot be handed this text, if it cannot."""
    if "\0" in script:
        return "the script contains a NUL character"
    try:
        script.encode("utf-8")
    except UnicodeEncodeError:
        return "the script contains an unpaired surrogate"
    return None


def _local(address: str) -> bool:
    """Whether an IP address is one of this machine's own (a socket can be bound to it)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_loopback or ip.is_unspecified:
        return True
    family = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((str(ip), 0))
        except OSError:
            return False
    return True


def _address(host: str, port: int, policy: dict[str, Any]) -> tuple[Any, ...] | str:
    """Where to connect for ``host:port``, resolved once, or why not: an address of this
    machine on Chronik's own port is never one (the connection goes to the address checked,
    so a second lookup cannot answer differently)."""
    found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    if port in policy["own_ports"] and any(_local(str(info[4][0])) for info in found):
        return f"http.fetch: {host}:{port} is this Chronik server's own address"
    return found[0][4]


def _allowed(scheme: str, host: str, port: int, policy: dict[str, Any]) -> bool:
    """A listed ``host:port`` allows that port; a bare host its scheme's default port."""
    for allowed, allowed_port in policy["hosts"]:
        if allowed == host and port == (allowed_port or DEFAULT_PORTS[scheme]):
            return True
    return False


def fetch(request: dict[str, Any], policy: dict[str, Any], seconds: float) -> dict[str, Any]:
    """Perform one ``http.fetch`` of an action, as the reply the prelude resolves it with.
    Nothing is followed: a 3xx is the action's answer to read, not a hop elsewhere."""
    reply: dict[str, Any] = {"id": request["id"], "error": None}
    url: str = request["url"]
    try:
        parts = urllib.parse.urlsplit(url)
        host = (parts.hostname or "").lower()
        port = parts.port or DEFAULT_PORTS.get(parts.scheme, 0)
    except ValueError as exc:
        return reply | {"error": f"http.fetch: {exc}"}
    if parts.scheme not in DEFAULT_PORTS:
        return reply | {"error": "http.fetch: only http and https URLs can be fetched"}
    if not _allowed(parts.scheme, host, port, policy):
        return reply | {"error": f'http.fetch: host "{host}" on port {port} is not allowed'}
    if seconds <= 0:
        return reply | {"error": "http.fetch: the action has no time left for the request"}
    body = request["body"]
    headers: dict[str, str] = request["headers"]
    if request["json"] and not any(name.lower() == "content-type" for name in headers):
        headers["Content-Type"] = "application/json"
    limit: int = policy["max_bytes"]
    try:
        address = _address(host, port, policy)
        if isinstance(address, str):
            return reply | {"error": address}
        connection = (
            http.client.HTTPSConnection(
                host, port, timeout=seconds, context=ssl.create_default_context()
            )
            if parts.scheme == "https"
            else http.client.HTTPConnection(host, port, timeout=seconds)
        )
        connection._create_connection = (  # type: ignore[attr-defined]
            lambda _, timeout, source: socket.create_connection(address, timeout, source)
        )
        try:
            target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            data = None if body is None else body.encode("utf-8")
            connection.request(request["method"], target, body=data, headers=headers)
            response = connection.getresponse()
            data = response.read(limit + 1)
            status = response.status
            received = response.headers
        finally:
            connection.close()
    except (OSError, ValueError, http.client.HTTPException) as exc:
        return reply | {"error": f"http.fetch: {exc}"}
    if len(data) > limit:
        return reply | {"error": f"http.fetch: the response is larger than {limit} bytes"}
    names: dict[str, str] = {}
    for name, value in received.items():
        key = name.lower()
        names[key] = f"{names[key]}, {value}" if key in names else value
    try:
        text = data.decode(received.get_content_charset() or "utf-8", "replace")
    except LookupError:
        text = data.decode("utf-8", "replace")
    return reply | {"status": status, "headers": names, "body": text}


def check(request: dict[str, Any]) -> dict[str, Any]:
    """Compile a script without running it, and say what is wrong with it, if anything."""
    script: str = request["script"]
    problem = unreadable(script)
    if problem is not None:
        return {"problem": problem}
    js = quickjs.Context()
    js.set_memory_limit(request["limits"]["memory_bytes"])
    js.set_max_stack_size(request["limits"]["stack_bytes"])
    js.set_time_limit(CHECK_SECONDS)
    try:
        js.eval(COMPILE_PREFIX + script)
    except quickjs.JSException as exc:
        message, _, stack = str(exc).partition("\n")
        if message == COMPILED:
            return {"problem": None}
        if message.startswith("InternalError: interrupted"):
            return {"problem": f"the script took longer than {CHECK_SECONDS:g}s to compile"}
        return {"problem": located(message, stack, BODY_LINE_SHIFT)}
    return {"problem": None}


def _classify(message: str, js: Any, memory: int, peak: Peak) -> str:
    if message.startswith("InternalError: interrupted"):
        return "timed_out"
    if message == "InternalError: out of memory":
        return "out_of_memory"
    if message == "null":
        # Where the high-water mark cannot be read, null is taken for what the engine throws.
        rise = peak.rise()
        return "out_of_memory" if rise is None or rise >= memory // 2 else "failed"
    if js.memory()["malloc_size"] >= 0.9 * memory:
        return "out_of_memory"
    return "failed"


def _drain(js: Any, host: Any, policy: dict[str, Any], budget: Budget, key: str) -> None:
    """Run jobs, and the action's fetches when only they are left, until its promise settles;
    each reply carries ``key``, so that only this side's replies resolve a fetch."""
    while not host("settled"):
        js.set_time_limit(budget.cpu_left())
        if js.execute_pending_job():
            continue
        requests = json.loads(host("takeRequests"))
        if not requests:
            return
        for request in requests:
            reply = fetch(request, policy, min(policy["timeout"], budget.wall_left()))
            js.set_time_limit(budget.cpu_left())
            host("answer", json.dumps(reply | {"key": key}))


def _collect(js: Any, host: Any, memory: int) -> dict[str, Any] | None:
    """What the prelude gathered; None if the context cannot say."""
    js.set_time_limit(-1)
    for _ in range(2):
        try:
            text: str = host("result")
        except quickjs.JSException:
            js.set_memory_limit(memory + COLLECT_HEADROOM)
            continue
        gathered: dict[str, Any] = json.loads(text)
        return gathered
    return None


def _execute(js: Any, host: Any, request: dict[str, Any], budget: Budget) -> str | None:
    """Hand the run's data over, run the script and its entry function; the text of an error
    that escaped them, if one did."""
    limits: dict[str, int] = request["limits"]
    key = secrets.token_hex(16)
    handover = {
        "key": key,
        "name": request["name"],
        "identifier": request["identifier"],
        "trigger": request["trigger"],
        "ctx": request["ctx"],
        "seed": request["seed"],
        "http": bool(request["http"]["hosts"]),
        "log_lines": limits["log_lines"],
        "log_line_chars": limits["log_line_chars"],
        "result_bytes": limits["result_bytes"],
    }
    try:
        js.set_time_limit(budget.cpu_left())
        host("setup", json.dumps(handover))
        js.set_time_limit(budget.cpu_left())
        js.eval(request["script"])
        js.set_time_limit(budget.cpu_left())
        host("start")
        _drain(js, host, request["http"], budget, key)
    except quickjs.JSException as exc:
        return str(exc)
    return None


def prelude() -> str:
    """What each fresh context evaluates first: prelude.js called with the source of
    modules.js, which a run compiles only if its script reads one of the globals it defines."""
    here = Path(__file__)
    source = here.with_name("prelude.js").read_text(encoding="utf-8").rstrip()
    modules = here.with_name("modules.js").read_text(encoding="utf-8")
    return f"{source}({json.dumps(modules)});"


class Fresh:
    """A new context with the prelude evaluated in it, made while the worker waits for its
    next request: compiling the prelude is most of a run's cost, and so stays off its path.
    Each is used by one run only."""

    def __init__(self, prelude: str) -> None:
        self.js = quickjs.Context()
        self.host = self.js.eval(prelude)
        self.peak = Peak()  # its /proc reads (tens of microseconds) stay off the run's path too


def run(request: dict[str, Any], fresh: Fresh) -> dict[str, Any]:
    """Run an action's script and entry function; the outcome, fields and logs it left."""
    limits: dict[str, int] = request["limits"]
    memory = limits["memory_bytes"]
    budget = Budget(request["timeout"])
    problem = unreadable(request["script"])
    if problem is not None:
        return {"outcome": "failed", "error": problem}
    js, host = fresh.js, fresh.host
    js.set_memory_limit(memory)
    js.set_max_stack_size(limits["stack_bytes"])
    peak = fresh.peak
    escaped = _execute(js, host, request, budget)
    result = _collect(js, host, memory) or {"outcome": "pending"}
    answer: dict[str, Any] = {
        "outcome": result["outcome"],
        "error": result.get("error", ""),
        "fields": result.get("fields", "{}"),
        "logs": result.get("logs", []),
        "logs_dropped": result.get("logs_dropped", 0),
    }
    if escaped is not None:
        message, _, stack = escaped.partition("\n")
        outcome = _classify(message, js, memory, peak)
        # An error after api.reject does not undo the rejection; running out of time or memory does.
        if outcome != "failed" or answer["outcome"] != "rejected":
            error = located(message, stack) if outcome == "failed" else ""
            answer |= {"outcome": outcome, "error": error, "fields": "{}"}
    elif answer["outcome"] == "pending":
        answer["error"] = "the action's promise never settled"
        answer["outcome"] = "failed"
    elif answer["outcome"] == "failed":
        answer["outcome"] = _classify(answer["error"], js, memory, peak)
        answer["error"] = located(answer["error"], result["stack"])
    return _capped(answer, bool(result.get("oversize")), limits["result_bytes"])


def _capped(answer: dict[str, Any], oversize: bool, limit: int) -> dict[str, Any]:
    """Keep a run's answer within the bytes it may hand back: fields go first, then logs."""
    logs = len(json.dumps(answer["logs"], ensure_ascii=False).encode("utf-8", "replace"))
    if not oversize and len(answer["fields"].encode("utf-8", "replace")) + logs <= limit:
        return answer
    if answer["outcome"] == "succeeded":
        answer["outcome"] = "failed"
        answer["error"] = f"the action's result is larger than {limit} bytes"
    answer["fields"] = "{}"
    if logs > limit:
        answer["logs_dropped"] += len(answer["logs"])
        answer["logs"] = []
    return answer


def handle(request: dict[str, Any], fresh: Fresh) -> dict[str, Any]:
    """One request's answer; a fault of this worker is reported, the next run starts clean."""
    try:
        if request["kind"] == "check":
            return check(request)
        return run(request, fresh)
    except Exception as exc:
        if request.get("kind") == "check":
            return {"problem": f"the script could not be checked: {exc!r}"}
        return {"outcome": "crashed", "error": f"the action's worker failed: {exc!r}"}


def read(source: IO[bytes]) -> dict[str, Any] | None:
    header = source.read(HEADER.size)
    if len(header) < HEADER.size:
        return None
    (length,) = HEADER.unpack(header)
    body = source.read(length)
    if len(body) < length:
        return None
    request: dict[str, Any] = json.loads(body)
    return request


def write(sink: IO[bytes], message: dict[str, Any]) -> None:
    # A lone surrogate from JavaScript is not UTF-8; it becomes "?" rather than a broken frame.
    body = json.dumps(message, ensure_ascii=False).encode("utf-8", "replace")
    sink.write(HEADER.pack(len(body)) + body)
    sink.flush()


def main() -> None:
    os.nice(10)
    text = prelude()
    source = os.fdopen(os.dup(0), "rb")
    sink = os.fdopen(os.dup(1), "wb")
    # Anything else writing to stdout would corrupt the frames: send it to stderr instead.
    os.dup2(2, 1)
    fresh: Fresh | None = Fresh(text)
    write(sink, {"ready": True})
    while (request := read(source)) is not None:
        answer = handle(request, fresh or Fresh(text))
        if request.get("kind") == "run":
            fresh = None  # used: its memory is freed before the next one is made
        write(sink, answer)
        if fresh is None:
            fresh = Fresh(text)


if __name__ == "__main__":
    main()
