"""A loopback HTTPS stand-in for Azure Resource Manager, Resource Graph and Entra ID token issuance.

It serves a dataset directory (layout of `mdcnb.sources.dataset`) through the real shapes:

- `POST /providers/Microsoft.ResourceGraph/resources`: the KQL subset the live source sends
  (`<table> | where type =~ '<t>'` or `<table> | where type in~ ('<t>', ...)`), scoped by `subscriptions`,
  `managementGroups` (from the subscriptions' `managementGroupAncestorsChain`) or the whole tenant, paged with
  `$skipToken` (the server's own page size caps `$top`, so even a small dataset spans many pages), with
  `totalRecords`, `count`, `resultTruncated`, a `type` facet and the per-user quota headers;
- `GET /providers/Microsoft.Security/assessmentMetadata` and
  `GET /subscriptions/{id}/providers/Microsoft.Security/connectors` as ARM lists with `nextLink`;
- on a second instance (`aad=True`): the Entra ID discovery document and client-credentials token endpoint.

Faults are injected with `Fault` (429 with Retry-After, 500, dropped connection, slow response, a body cut short,
resultTruncated, a page that always fails) and `forbidden` subscriptions (403). Every request is recorded.
Rows are indexed by file offset, not held in memory, so the 1,000,000-row benchmark tenant fits.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import os
import re
import shutil
import ssl
import tempfile
import threading
import time
import traceback
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson

ARG_PATH = "/providers/microsoft.resourcegraph/resources"
TABLE_FILES = {  # Resource Graph table -> dataset files whose rows it holds
    "resourcecontainers": ("subscriptions",),
    "securityresources": ("assessments", "governanceassignments", "pricings", "securescores", "securescorecontrols",
                          "regulatorycompliancestandards", "regulatorycompliancecontrols",
                          "regulatorycomplianceassessments"),
    "resources": ("securityconnectors", "resources"),
    "policyresources": ("policyexemptions",),
}
MG_PREFIX = "/providers/microsoft.management/managementgroups/"
REST_FILES = ("assessmentmetadata",)
QUERY = re.compile(r"^\s*(\w+)\s*\|\s*where\s+type\s+(?:=~\s*'([^']*)'|in~\s*\(([^)]*)\))\s*$", re.S)


@dataclass
class Fault:
    """An injected failure. `table`: Resource Graph table to hit, or "rest" for ARM GETs (None: any request).
    `page`: 0-based page of a query (None: any page). `times`: how many matching requests it hits (-1: all)."""

    kind: str  # throttle | error500 | drop | slow | cut_body | truncated | fail_page
    table: str | None = None
    page: int | None = None
    times: int = 1
    retry_after: int = 1
    delay: float = 0.0
    hits: int = 0

    def matches(self, table: str | None, page: int | None) -> bool:
        if self.times != -1 and self.hits >= self.times:
            return False
        if self.table is not None and self.table != table:
            return False
        return self.page is None or self.page == page


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    body: bytes
    authorization: str | None
    status: int = 0


@dataclass(slots=True)
class _Row:
    file: str
    offset: int
    length: int
    type: str
    group: str = ""  # a row at management-group scope (no subscription): the group's name, lower case


class Tenant:
    """Row index of a dataset directory: per file, per subscription, rows in file order (offsets only)."""

    def __init__(self, dataset: Path) -> None:
        self.dataset = _plain_copy_if_gzipped(Path(dataset))
        self.rows: dict[str, dict[str, list[_Row]]] = {}
        self.groups: dict[str, set[str]] = defaultdict(set)  # management group name -> subscriptions
        for name in {f for files in TABLE_FILES.values() for f in files} | set(REST_FILES):
            self.rows[name] = self._index(name)
        with (self.dataset / "subscriptions.jsonl").open("rb") as fh:
            for line in fh:
                if line.strip():
                    row = json.loads(line)
                    chain = (row.get("properties") or {}).get("managementGroupAncestorsChain") or []
                    for group in chain:
                        self.groups[str(group.get("name", "")).lower()].add(_subscription_of(row))

    def _index(self, name: str) -> dict[str, list[_Row]]:
        index: dict[str, list[_Row]] = defaultdict(list)
        path = self.dataset / f"{name}.jsonl"
        if not path.exists():
            return index
        offset = 0
        with path.open("rb") as fh:
            for line in fh:
                if line.strip():
                    row = orjson.loads(line)
                    index[_subscription_of(row)].append(_Row(name, offset, len(line), str(row.get("type", "")).lower(),
                                                             _group_of(row)))
                offset += len(line)
        return index

    def subscriptions(self) -> list[str]:
        return list(self.rows["subscriptions"])

    def read(self, rows: list[_Row]) -> list[bytes]:
        """The rows' JSON text, as stored."""
        out = []
        handles: dict[str, Any] = {}
        try:
            for r in rows:
                fh = handles.get(r.file) or handles.setdefault(r.file, (self.dataset / f"{r.file}.jsonl").open("rb"))
                fh.seek(r.offset)
                out.append(fh.read(r.length).rstrip())
        finally:
            for fh in handles.values():
                fh.close()
        return out


def _plain_copy_if_gzipped(dataset: Path) -> Path:
    """Serve `<type>.jsonl.gz` datasets too: they are unpacked once into a temporary directory (rows are seeked)."""
    gz = sorted(dataset.glob("*.jsonl.gz"))
    if not gz:
        return dataset
    plain = Path(tempfile.mkdtemp(prefix="azure-test-tenant-"))
    for path in dataset.glob("*.jsonl*"):
        target = plain / path.name.removesuffix(".gz")
        with (gzip.open(path, "rb") if path.suffix == ".gz" else path.open("rb")) as src, target.open("wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
    return plain


class AzureTestService:
    """The fake ARM + Resource Graph endpoint over a `Tenant` (see the module docstring)."""

    def __init__(self, dataset: Path | None = None, *, page_size: int = 1000, quota: int | None = None,
                 quota_window: float = 5.0, token: str | None = None, aad: bool = False,
                 client_secret: str | None = None) -> None:
        self.tenant = Tenant(dataset) if dataset else None
        self.page_size = page_size
        self.quota = quota
        self.quota_window = quota_window
        self.token = token
        self.aad = aad
        self.client_secret = client_secret
        self.faults: list[Fault] = []
        self.forbidden: set[str] = set()
        self.requests: list[Recorded] = []
        self.token_requests: list[dict[str, list[str]]] = []
        self.quota_violations = 0
        self.subscription_limit = 10_000  # tenant / management-group scope answers for this many subscriptions
        self.errors: list[str] = []  # server-side exceptions (a dropped connection leaves one)
        self._lock = threading.Lock()
        self._results: dict[str, list[_Row]] = {}
        self._window_start = time.monotonic()
        self._window_used = 0
        self.base_url = ""
        self.link_base: str | None = None  # how nextLinks spell this server (default: its URL as `serve` made it)

    # -- request handling ---------------------------------------------------------------------------------------
    def handle(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        parts = urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        record = Recorded(method, parts.path, parse_qs(parts.query), body, handler.headers.get("Authorization"))
        with self._lock:
            self.requests.append(record)
        if self.aad:
            status, headers, payload = self._aad(method, parts.path, body)
            return _send(handler, record, status, headers, payload)
        if self.token and record.authorization != f"Bearer {self.token}":
            return _send(handler, record, 401, {}, _error("InvalidAuthenticationToken", "The access token is invalid."))
        path = parts.path.lower()
        if method == "POST" and path == ARG_PATH:
            return self._resource_graph(handler, record)
        if method == "GET":
            return self._rest(handler, record, parts.path, parse_qs(parts.query))
        return _send(handler, record, 405, {}, _error("MethodNotAllowed", f"{method} is not served here"))

    def _fault(self, table: str | None, page: int | None) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.matches(table, page):
                    fault.hits += 1
                    return fault
        return None

    def _quota_headers(self) -> tuple[dict[str, str], bool]:
        """Per-user quota: `quota` requests per `quota_window` seconds; over it the request is throttled."""
        if self.quota is None:
            return {}, True
        with self._lock:
            now = time.monotonic()
            if now - self._window_start >= self.quota_window:
                self._window_start, self._window_used = now, 0
            self._window_used += 1
            allowed = self._window_used <= self.quota
            if not allowed:
                self.quota_violations += 1
            left = max(self.quota - self._window_used, 0)
            reset = max(self.quota_window - (now - self._window_start), 0.0)
        return {"x-ms-user-quota-remaining": str(left),
                "x-ms-user-quota-resets-after": time.strftime("%H:%M:%S", time.gmtime(int(reset)))
                + f".{int((reset % 1) * 1000):03d}"}, allowed

    def _resource_graph(self, handler: BaseHTTPRequestHandler, record: Recorded) -> None:
        try:
            request = json.loads(record.body)
            table, types = _parse_query(request["query"])
        except (ValueError, KeyError, TypeError) as exc:
            return _send(handler, record, 400, {}, _error("InvalidQuery", f"Query validation error: {exc}"))
        options = request.get("options") or {}
        start, key = 0, None
        if options.get("$skipToken"):
            state = json.loads(base64.b64decode(options["$skipToken"]))
            start, key = state["o"], state["k"]
        page_no = start // self.page_size if start else 0
        quota_headers, allowed = self._quota_headers()
        if not allowed:
            return _send(handler, record, 429, {**quota_headers, "Retry-After": "1"},
                         _error("RateLimiting", "Client application has been throttled and should not attempt to "
                                "repeat the request until an amount of time has elapsed."))
        subs = [s.lower() for s in request.get("subscriptions") or []]
        denied = sorted(set(subs) & self.forbidden)
        if denied:
            return _send(handler, record, 403, quota_headers, _error(
                "AuthorizationFailed", f"The client does not have authorization to perform action "
                f"'Microsoft.ResourceGraph/resources/read' over scope '/subscriptions/{denied[0]}'."))
        fault = self._fault(table, page_no)
        if fault and self._fail(handler, record, fault, quota_headers):
            return None
        groups = [g.lower() for g in request.get("managementGroups") or []]
        key = key or _result_key(table, types, subs, groups)
        rows = self._result(key, table, types, subs, groups)
        top = min(int(options.get("$top") or 100), self.page_size)
        chunk = rows[start:start + top]
        truncated = bool(fault and fault.kind == "truncated")
        payload: dict[str, Any] = {"totalRecords": len(rows), "count": len(chunk),
                                   "resultTruncated": "true" if truncated else "false", "facets": []}
        if start + top < len(rows) and not truncated:
            payload["$skipToken"] = base64.b64encode(json.dumps({"k": key, "o": start + top}).encode()).decode()
        if not subs and self._scope_size(groups) > self.subscription_limit:
            quota_headers = {**quota_headers, "x-ms-tenant-subscription-limit-hit": "true"}
        if any(f.get("expression") == "type" for f in request.get("facets") or []):
            counts = Counter(r.type for r in rows)
            payload["facets"] = [{"expression": "type", "resultType": "FacetResult", "totalRecords": len(counts),
                                  "count": len(counts), "data": [{"type": t, "count": n} for t, n in counts.items()]}]
        body = _with_rows(payload, "data", self.tenant.read(chunk))
        if fault and fault.kind == "cut_body":
            body = body[: len(body) // 2]
        return _send(handler, record, 200, quota_headers, body)

    def _result(self, key: str, table: str, types: set[str], subs: list[str], groups: list[str]) -> list[_Row]:
        with self._lock:
            if key in self._results:
                return self._results[key]
        if subs:
            scope = subs
        elif groups:
            scope = sorted(set().union(*(self.tenant.groups.get(g, set()) for g in groups)))[:self.subscription_limit]
        else:
            scope = self.tenant.subscriptions()[:self.subscription_limit]
        rows = [r for name in TABLE_FILES[table] for sub in scope for r in self.tenant.rows[name].get(sub, [])
                if r.type in types]
        if not subs:  # rows at management-group scope: only a tenant or management-group query sees them
            rows += [r for name in TABLE_FILES[table] for r in self.tenant.rows[name].get("", [])
                     if r.type in types and r.group and (not groups or self._below(r.group, groups))]
        with self._lock:
            self._results[key] = rows
        return rows

    def _below(self, group: str, groups: list[str]) -> bool:
        """`group` is one of `groups` or under one (all its subscriptions are under it)."""
        inside = set().union(*(self.tenant.groups.get(g, set()) for g in groups))
        return group in groups or (bool(self.tenant.groups.get(group)) and self.tenant.groups[group] <= inside)

    def _scope_size(self, groups: list[str]) -> int:
        if groups:
            return len(set().union(*(self.tenant.groups.get(g.lower(), set()) for g in groups)))
        return len(self.tenant.subscriptions())

    def _rest(self, handler: BaseHTTPRequestHandler, record: Recorded, path: str,
              query: dict[str, list[str]]) -> None:
        low = path.lower()
        start = int(query.get("$skiptoken", ["0"])[0])
        fault = self._fault("rest", start // self.page_size)
        if fault and self._fail(handler, record, fault, {}):
            return None
        match = re.fullmatch(r"/subscriptions/([^/]+)/providers/microsoft\.security/connectors", low)
        if low == "/providers/microsoft.security/assessmentmetadata":
            rows = [r for rs in self.tenant.rows["assessmentmetadata"].values() for r in rs]
        elif match:
            sub = match.group(1)
            if sub in self.forbidden:
                return _send(handler, record, 403, {}, _error(
                    "AuthorizationFailed", f"no authorization over scope '/subscriptions/{sub}'"))
            rows = [r for r in self.tenant.rows["securityconnectors"].get(sub, [])
                    if r.type == "microsoft.security/connectors"]
        else:
            return _send(handler, record, 404, {}, _error("NotFound", f"no route for {path}"))
        chunk = rows[start:start + self.page_size]
        payload: dict[str, Any] = {}
        if start + self.page_size < len(rows):
            api = query.get("api-version", [""])[0]
            base = self.link_base or self.base_url
            payload["nextLink"] = f"{base}{path}?api-version={api}&$skiptoken={start + self.page_size}"
        return _send(handler, record, 200, {}, _with_rows(payload, "value", self.tenant.read(chunk)))

    def _fail(self, handler: BaseHTTPRequestHandler, record: Recorded, fault: Fault,
              headers: dict[str, str]) -> bool:
        """Act out a fault; True when the request was answered (or dropped) by it."""
        if fault.kind == "throttle":
            _send(handler, record, 429, {**headers, "Retry-After": str(fault.retry_after)},
                  _error("RateLimiting", "Client application has been throttled"))
        elif fault.kind in ("error500", "fail_page"):
            _send(handler, record, 500, headers, _error("InternalServerError", "Encountered internal server error."))
        elif fault.kind == "drop":
            record.status = -1
            handler.close_connection = True
            handler.connection.shutdown(2)
        elif fault.kind == "slow":
            time.sleep(fault.delay)
            return False
        else:
            return False
        return True

    def _aad(self, method: str, path: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
        tenant = path.strip("/").split("/")[0]
        if method == "GET" and path.endswith("/v2.0/.well-known/openid-configuration"):
            base = f"{self.base_url}/{tenant}"
            return 200, {}, json.dumps({
                "token_endpoint": f"{base}/oauth2/v2.0/token", "issuer": f"{base}/v2.0",
                "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode"}).encode()
        if method == "POST" and path.endswith("/oauth2/v2.0/token"):
            form = parse_qs(body.decode())
            with self._lock:
                self.token_requests.append({k: v for k, v in form.items() if k != "client_secret"})
            if self.client_secret is not None and form.get("client_secret", [""])[0] != self.client_secret:
                return 401, {}, json.dumps({"error": "invalid_client", "error_description": "bad secret"}).encode()
            return 200, {}, json.dumps({"token_type": "Bearer", "expires_in": 3600, "ext_expires_in": 3600,
                                        "access_token": self.token}).encode()
        return 404, {}, json.dumps({"error": "not_found"}).encode()


def _send(handler: BaseHTTPRequestHandler, record: Recorded, status: int, headers: dict[str, str],
          body: bytes) -> None:
    record.status = status
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json; charset=utf-8")
    handler.send_header("Content-Length", str(len(body)))
    for name, value in headers.items():
        handler.send_header(name, value)
    handler.end_headers()
    handler.wfile.write(body)


def _with_rows(payload: dict[str, Any], key: str, rows: list[bytes]) -> bytes:
    """`payload` as JSON with `key` holding the rows' stored JSON text (not re-encoded)."""
    head = json.dumps(payload).encode()[:-1]
    return head + (b", " if payload else b"") + f'"{key}": ['.encode() + b",".join(rows) + b"]}"


def _error(code: str, message: str) -> bytes:
    return json.dumps({"error": {"code": code, "message": message}}).encode()


def _parse_query(text: str) -> tuple[str, set[str]]:
    match = QUERY.match(text)
    if not match or match.group(1).lower() not in TABLE_FILES:
        raise ValueError(f"query not understood by the test service: {text!r}")
    table = match.group(1).lower()
    types = {match.group(2).lower()} if match.group(2) is not None else {
        t.lower() for t in re.findall(r"'([^']*)'", match.group(3))}
    return table, types


def _result_key(table: str, types: set[str], subs: list[str], groups: list[str]) -> str:
    text = json.dumps([table, sorted(types), subs, sorted(groups)])
    return hashlib.sha1(text.encode()).hexdigest()


def _group_of(row: dict[str, Any]) -> str:
    text = str(row.get("id", "")).lower()
    return text[len(MG_PREFIX):].split("/", 1)[0] if text.startswith(MG_PREFIX) else ""


def _subscription_of(row: dict[str, Any]) -> str:
    sub = row.get("subscriptionId")
    if not sub:
        parts = str(row.get("id", "")).split("/")
        sub = parts[2] if len(parts) > 2 and parts[1].lower() == "subscriptions" else ""
    return str(sub).lower()


@dataclass
class RunningServer:
    service: AzureTestService
    server: ThreadingHTTPServer
    thread: threading.Thread
    url: str
    extra: dict[str, Any] = field(default_factory=dict)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def serve(service: AzureTestService, ssl_context: ssl.SSLContext, port: int = 0) -> RunningServer:
    """Start `service` on 127.0.0.1:`port` (0: a free one) over TLS, in a daemon thread."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            service.handle(self, "GET")

        def do_POST(self) -> None:
            service.handle(self, "POST")

        def do_PUT(self) -> None:
            service.handle(self, "PUT")

        def do_PATCH(self) -> None:
            service.handle(self, "PATCH")

        def do_DELETE(self) -> None:
            service.handle(self, "DELETE")

        def log_message(self, format: str, *args: Any) -> None:
            return

    class Server(ThreadingHTTPServer):
        def handle_error(self, request: Any, client_address: Any) -> None:
            service.errors.append(traceback.format_exc())

    server = Server(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    server.socket = ssl_context.wrap_socket(server.socket, server_side=True)
    url = f"https://127.0.0.1:{server.server_address[1]}"
    service.base_url = url
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    return RunningServer(service, server, thread, url)


def tls(tmp: Path) -> tuple[ssl.SSLContext, Path]:
    """A trustme CA and a server context for 127.0.0.1; returns the context and the CA bundle path."""
    import trustme

    ca = trustme.CA()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(ctx)
    bundle = Path(tmp) / "test-ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    return ctx, bundle


def main() -> None:
    """Serve a dataset from a separate process (the benchmark): prints the URL and CA bundle, then serves."""
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--page-size", type=int, default=1000)
    parser.add_argument("--token", default="bench-token")
    args = parser.parse_args()
    ctx, bundle = tls(Path(tempfile.mkdtemp()))
    running = serve(AzureTestService(args.dataset, page_size=args.page_size, token=args.token), ctx)
    print(json.dumps({"url": running.url, "ca": str(bundle), "pid": os.getpid()}), flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        running.stop()


if __name__ == "__main__":
    main()
