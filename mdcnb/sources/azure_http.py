"""HTTP to Azure Resource Manager through azure-core's pipeline: bearer token, retries, quota pacing.

Only two kinds of call exist, and both are read-only: `GET` on ARM lists and the Resource Graph query `POST`.
Retries are azure-core's `RetryPolicy` (Retry-After honoured on 429, exponential backoff on 5xx and on connection
errors, bounded); the Resource Graph POST is a query, so it is retried like a GET. `QuotaGate` paces all workers
by the `x-ms-user-quota-remaining` / `x-ms-user-quota-resets-after` headers Resource Graph sends on every response.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from azure.core import PipelineClient
from azure.core.credentials import TokenCredential
from azure.core.exceptions import AzureError
from azure.core.pipeline import PipelineRequest, PipelineResponse
from azure.core.pipeline.policies import (
    BearerTokenCredentialPolicy,
    HeadersPolicy,
    RetryPolicy,
    SansIOHTTPPolicy,
    UserAgentPolicy,
)
from azure.core.pipeline.transport import RequestsTransport
from azure.core.rest import HttpRequest

from mdcnb import __version__
from mdcnb.core.scrub import scrub

ARG_PATH = "/providers/Microsoft.ResourceGraph/resources"
ARG_API_VERSION = "2024-04-01"
RETRY_METHODS = frozenset({"GET", "POST"})  # POST only ever carries a Resource Graph query (read-only)
QUOTA_REMAINING = "x-ms-user-quota-remaining"
QUOTA_RESETS_AFTER = "x-ms-user-quota-resets-after"
SUBSCRIPTION_LIMIT_HIT = "x-ms-tenant-subscription-limit-hit"  # tenant/MG scope capped at 10,000 subscriptions


@dataclass(frozen=True)
class RetrySettings:
    """Bounds of the retry policy (defaults suit a real tenant; tests shrink the backoff)."""

    total: int = 8
    status: int = 6
    connect: int = 4
    read: int = 4
    backoff_factor: float = 0.8
    backoff_max: float = 60.0
    read_timeout: float = 120.0
    connection_timeout: float = 30.0


class ArmError(Exception):
    """A call that failed after the retries: HTTP status (None for transport errors), service code, message."""

    def __init__(self, status: int | None, code: str, message: str) -> None:
        super().__init__(f"{status or 'no response'} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


@dataclass
class CallStats:
    """Counts of what went over the wire (every attempt, retries included)."""

    requests: int = 0
    throttled: int = 0
    server_errors: int = 0
    quota_waits: int = 0
    quota_wait_seconds: float = 0.0
    subscription_limit_hit: bool = False
    by_kind: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def count(self, kind: str, status: int | None) -> None:
        with self.lock:
            self.requests += 1
            self.by_kind[kind] = self.by_kind.get(kind, 0) + 1
            if status == 429:
                self.throttled += 1
            elif status is not None and status >= 500:
                self.server_errors += 1

    def as_dict(self) -> dict[str, Any]:
        return {"requests": self.requests, "throttled": self.throttled, "server_errors": self.server_errors,
                "quota_waits": self.quota_waits, "quota_wait_seconds": round(self.quota_wait_seconds, 3),
                "by_kind": dict(sorted(self.by_kind.items()))}


def parse_resets_after(value: str) -> float:
    """`hh:mm:ss` (as Resource Graph sends it, fractions allowed) to seconds; 1 s when unreadable."""
    match = re.fullmatch(r"\s*(\d+):(\d{1,2}):(\d{1,2}(?:\.\d+)?)\s*", value or "")
    if not match:
        return 1.0
    hours, minutes, seconds = match.groups()
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


class QuotaGate:
    """Holds every worker back once Resource Graph says the user's quota window is (nearly) used up.

    `reserve` is how many requests may still be in flight from other workers when a response arrives, so the
    gate closes while `remaining <= reserve` and opens again when the window resets.
    """

    def __init__(self, reserve: int, stats: CallStats, sleep: Callable[[float], None] = time.sleep) -> None:
        self.reserve = reserve
        self.stats = stats
        self._sleep = sleep
        self._lock = threading.Lock()
        self._open_at = 0.0

    def wait(self) -> None:
        while True:
            with self._lock:
                delay = self._open_at - time.monotonic()
            if delay <= 0:
                return
            with self.stats.lock:
                self.stats.quota_waits += 1
                self.stats.quota_wait_seconds += delay
            self._sleep(delay)

    def update(self, headers: Any) -> None:
        remaining = headers.get(QUOTA_REMAINING)
        if remaining is None:
            return
        try:
            left = int(remaining)
        except ValueError:
            return
        if left <= self.reserve:
            reopen = time.monotonic() + parse_resets_after(headers.get(QUOTA_RESETS_AFTER, ""))
            with self._lock:
                self._open_at = max(self._open_at, reopen)


class _PacingPolicy(SansIOHTTPPolicy):
    """Inside the retry loop: waits at the quota gate before each attempt, counts and reads headers after it."""

    def __init__(self, gate: QuotaGate, stats: CallStats) -> None:
        self.gate = gate
        self.stats = stats

    def on_request(self, request: PipelineRequest) -> None:
        self.gate.wait()

    def on_response(self, request: PipelineRequest, response: PipelineResponse) -> None:
        kind = "resourcegraph" if ARG_PATH.lower() in request.http_request.url.lower() else "arm"
        self.stats.count(kind, response.http_response.status_code)
        self.gate.update(response.http_response.headers)
        if str(response.http_response.headers.get(SUBSCRIPTION_LIMIT_HIT, "")).lower() == "true":
            self.stats.subscription_limit_hit = True

    def on_exception(self, request: PipelineRequest) -> None:
        kind = "resourcegraph" if ARG_PATH.lower() in request.http_request.url.lower() else "arm"
        self.stats.count(kind, None)


class ArmClient:
    """Read-only ARM / Resource Graph client: `query(body)` and `get(url)` return parsed JSON or raise ArmError."""

    def __init__(self, credential: TokenCredential, *, endpoint: str, token_scope: str, workers: int = 4,
                 retry: RetrySettings | None = None, connection_verify: str | bool | None = None) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.retry = retry or RetrySettings()
        self.stats = CallStats()
        self.gate = QuotaGate(reserve=workers, stats=self.stats)
        verify = connection_verify if connection_verify is not None else os.environ.get("REQUESTS_CA_BUNDLE", True)
        policies = [
            HeadersPolicy({"Accept": "application/json"}),
            UserAgentPolicy(sdk_moniker=f"mdcnb/{__version__}"),
            RetryPolicy(retry_total=self.retry.total, retry_status=self.retry.status,
                        retry_connect=self.retry.connect, retry_read=self.retry.read,
                        retry_backoff_factor=self.retry.backoff_factor, retry_backoff_max=self.retry.backoff_max),
            BearerTokenCredentialPolicy(credential, token_scope),
            _PacingPolicy(self.gate, self.stats),
        ]
        self._client = PipelineClient(self.endpoint, policies=policies,
                                      transport=RequestsTransport(connection_verify=verify))

    def close(self) -> None:
        self._client.close()

    def query(self, body: dict[str, Any]) -> dict[str, Any]:
        """One Resource Graph page (POST /providers/Microsoft.ResourceGraph/resources)."""
        url = f"{self.endpoint}{ARG_PATH}?api-version={ARG_API_VERSION}"
        request = HttpRequest("POST", url, content=orjson.dumps(body), headers={"Content-Type": "application/json"})
        return self._send(request)

    def get(self, url: str) -> dict[str, Any]:
        """One ARM GET (`url` absolute, or a path below the endpoint)."""
        if url.startswith("/"):
            url = f"{self.endpoint}{url}"
        return self._send(HttpRequest("GET", url))

    def _send(self, request: HttpRequest) -> dict[str, Any]:
        try:
            response = self._client.send_request(
                request, retry_on_methods=RETRY_METHODS, read_timeout=self.retry.read_timeout,
                connection_timeout=self.retry.connection_timeout)
            body = response.read()
        except AzureError as exc:
            raise ArmError(None, type(exc).__name__, scrub(str(exc).splitlines()[0] if str(exc) else "")) from None
        if response.status_code >= 400:
            code, message = _error_of(body)
            raise ArmError(response.status_code, code, message)
        try:
            parsed = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise ArmError(response.status_code, "InvalidJson",
                           f"response body of {len(body)} bytes is not complete JSON ({exc})") from None
        if not isinstance(parsed, dict):
            raise ArmError(response.status_code, "InvalidJson", "response body is not a JSON object")
        return parsed


def _error_of(body: bytes) -> tuple[str, str]:
    """Code and message of an ARM / Resource Graph error body (`{"error": {"code", "message"}}`)."""
    try:
        error = orjson.loads(body).get("error") or {}
        return str(error.get("code") or "Error"), scrub(str(error.get("message") or ""))
    except (orjson.JSONDecodeError, AttributeError):
        return "Error", scrub(body[:200].decode("utf-8", "replace"))
