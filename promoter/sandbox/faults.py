"""Fault injection for the sandbox's API routes (reliability tests, demos of retries).

A :class:`FaultInjector` holds rules; :meth:`FaultInjector.wrap` turns any
``ApiHandler`` into one that, for a request a rule matches, answers the fault
instead (or, with ``after=True``, runs the real handler first and then loses
its answer, which is what a proxy timing out after the backend committed
looks like). Decisions use one seeded ``random.Random`` under a lock, so a
test with a seed is reproducible for a given request order.

From the command line (``promoter sandbox serve --fault SPEC``), a rule is
comma-separated ``key=value`` items, e.g.::

    status=502,p=0.3,path=^/api/v3/
    status=429,retry_after=1,times=1,method=POST
    status=403,rate_limit,times=2          # primary limit: x-ratelimit-remaining 0
    latency=0.5,path=/pulls$
    drop,p=0.1

Keys: ``status``, ``p`` (probability, default 1), ``times`` (at most this many
injections), ``skip`` (let the first N matching requests through), ``path``
(regex searched in the request path), ``method``, ``latency`` (seconds, added
before answering), ``drop`` (close the connection without an answer),
``retry_after`` (seconds, sets ``Retry-After``), ``rate_limit`` (sets
``x-ratelimit-remaining: 0`` and a reset time), ``after`` (run the handler,
then fail), ``message`` (error message in the body).
"""

from __future__ import annotations

import json
import random
import re
import threading
import time
from dataclasses import dataclass, field

from promoter.sandbox.types import ApiHandler, ApiRequest, ApiResponse

GITHUB_SECONDARY = (
    "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."
)
GITHUB_SECONDARY_DOC = (
    "https://docs.github.com/en/free-pro-team@latest/rest/overview/"
    "resources-in-the-rest-api#secondary-rate-limits"
)


@dataclass(slots=True)
class Fault:
    status: int | None = None
    probability: float = 1.0
    times: int | None = None
    skip: int = 0
    path: str = ""
    method: str | None = None
    latency: float = 0.0
    drop: bool = False
    retry_after: int | None = None
    rate_limit: bool = False
    after: bool = False
    message: str | None = None
    # bookkeeping
    seen: int = 0
    injected: int = 0
    _path_re: re.Pattern[str] | None = field(default=None, repr=False)

    def matches(self, request: ApiRequest) -> bool:
        if self.method and request.method != self.method.upper():
            return False
        if self.path:
            if self._path_re is None:
                self._path_re = re.compile(self.path)
            if not self._path_re.search(request.path):
                return False
        return True


@dataclass(frozen=True, slots=True)
class Injection:
    method: str
    path: str
    status: int | None
    dropped: bool
    after: bool


def parse_fault(spec: str) -> Fault:
    """Parse a CLI fault spec (see the module docstring) into a :class:`Fault`."""
    fault = Fault()
    for raw in spec.split(","):
        item = raw.strip()
        if not item:
            continue
        key, sep, value = item.partition("=")
        key = key.strip().lower().replace("-", "_")
        try:
            if key == "status":
                fault.status = int(value)
            elif key in ("p", "probability"):
                fault.probability = float(value)
            elif key == "times":
                fault.times = int(value)
            elif key == "skip":
                fault.skip = int(value)
            elif key == "path":
                fault.path = value
            elif key == "method":
                fault.method = value.upper()
            elif key == "latency":
                fault.latency = float(value)
            elif key == "retry_after":
                fault.retry_after = int(value)
            elif key == "message":
                fault.message = value
            elif key in ("drop", "rate_limit", "after") and (not sep or value in ("1", "true")):
                setattr(fault, key, True)
            else:
                raise ValueError(f"unknown key {key!r}")
        except ValueError as exc:
            raise ValueError(
                f"bad fault spec {spec!r} at {item!r}: {exc}. "
                "Use comma-separated key=value items, e.g. 'status=502,p=0.3,path=^/api/v3/'."
            ) from None
    if fault.status is None and not fault.drop and fault.latency <= 0:
        raise ValueError(f"fault spec {spec!r} does nothing: give status=, drop or latency=")
    return fault


def _error_body(request: ApiRequest, status: int, fault: Fault) -> bytes:
    """An error body in the dialect of the API the request went to."""
    if request.path.startswith("/api/v4"):
        default = {429: "429 Too Many Requests", 403: "403 Forbidden"}.get(
            status, f"{status} {'Bad Gateway' if status == 502 else 'Server Error'}"
        )
        return json.dumps({"message": fault.message or default}).encode()
    if status in (403, 429) and (fault.retry_after is not None or fault.rate_limit):
        msg = fault.message or GITHUB_SECONDARY
        if fault.rate_limit and not fault.message:
            msg = "API rate limit exceeded for user ID 1."
        return json.dumps({"message": msg, "documentation_url": GITHUB_SECONDARY_DOC}).encode()
    body: dict[str, str] = {"message": fault.message or "Server Error"}
    if status < 500:
        body["documentation_url"] = "https://docs.github.com/rest"
        body["status"] = str(status)
    return json.dumps(body).encode()


class FaultInjector:
    def __init__(self, seed: int | None = None, faults: list[Fault] | None = None) -> None:
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self.faults: list[Fault] = list(faults or [])
        self.log: list[Injection] = []

    def add(self, fault: Fault | str) -> Fault:
        rule = parse_fault(fault) if isinstance(fault, str) else fault
        with self._lock:
            self.faults.append(rule)
        return rule

    def clear(self) -> None:
        with self._lock:
            self.faults.clear()

    def decide(self, request: ApiRequest) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if not fault.matches(request):
                    continue
                fault.seen += 1
                if fault.seen <= fault.skip:
                    continue
                if fault.times is not None and fault.injected >= fault.times:
                    continue
                if fault.probability < 1.0 and self._rng.random() >= fault.probability:
                    continue
                fault.injected += 1
                self.log.append(
                    Injection(request.method, request.path, fault.status, fault.drop, fault.after)
                )
                return fault
        return None

    def respond(self, request: ApiRequest, fault: Fault) -> ApiResponse:
        if fault.drop:
            return ApiResponse(status=502, drop_connection=True)
        status = fault.status or 502
        headers = [("Content-Type", "application/json; charset=utf-8")]
        if fault.retry_after is not None:
            headers.append(("Retry-After", str(fault.retry_after)))
        if status in (403, 429) or fault.rate_limit:
            reset = int(time.time()) + (fault.retry_after or 1)
            remaining = "0" if fault.rate_limit else "4999"
            if request.path.startswith("/api/v4"):
                headers += [("RateLimit-Limit", "2000"), ("RateLimit-Remaining", remaining),
                            ("RateLimit-Reset", str(reset))]
            else:
                headers += [("x-ratelimit-limit", "5000"), ("x-ratelimit-remaining", remaining),
                            ("x-ratelimit-used", "5000" if fault.rate_limit else "1"),
                            ("x-ratelimit-reset", str(reset)), ("x-ratelimit-resource", "core")]
        return ApiResponse(status=status, body=_error_body(request, status, fault), headers=headers)

    def wrap(self, handler: ApiHandler) -> ApiHandler:
        """``handler`` with this injector's faults in front of it."""

        def faulty(request: ApiRequest) -> ApiResponse | None:
            fault = self.decide(request)
            if fault is None:
                return handler(request)
            if fault.latency > 0:
                time.sleep(fault.latency)
            if fault.status is None and not fault.drop:
                return handler(request)  # latency only
            if fault.after:
                if handler(request) is None:
                    return None
            return self.respond(request, fault)

        return faulty
