"""A loopback HTTPS server for client tests: real TLS (a trustme CA), real HTTP, responses from a test function."""

from __future__ import annotations

import json
import ssl
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import trustme


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class Server:
    base_url: str
    ca_path: str
    requests: list[Request] = field(default_factory=list)


# handler(request) -> (status, headers, body): a JSON value (None: no body), `bytes` sent as they are, or an iterator
# of `bytes` sent with chunked transfer encoding (a body of any length; the client may hang up before its end)
Handler = Callable[[Request], tuple[int, dict[str, str], Any]]


@contextmanager
def https_server(handler: Handler, tmp_path: Path) -> Iterator[Server]:
    ca = trustme.CA()
    leaf = ca.issue_cert("127.0.0.1", "localhost")
    ca_path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_path))
    seen: list[Request] = []

    class _Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            request = Request(self.command, self.path, {k.lower(): v for k, v in self.headers.items()},
                              json.loads(raw) if raw else None)
            seen.append(request)
            status, headers, body = handler(request)
            self.send_response(status)
            for key, value in {"Content-Type": "application/json", **headers}.items():
                self.send_header(key, value)
            if isinstance(body, Iterator):
                self._send_chunked(body)
                return
            payload = body if isinstance(body, bytes) else b"" if body is None else json.dumps(body).encode()
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def _send_chunked(self, chunks: Iterator[bytes]) -> None:
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            try:
                for chunk in chunks:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                self.wfile.write(b"0\r\n\r\n")
            except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
                self.close_connection = True  # the client stopped reading

        do_GET = do_POST = _serve

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    leaf.configure_cert(context)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield Server(f"https://127.0.0.1:{httpd.server_address[1]}", str(ca_path), seen)
    finally:
        httpd.shutdown()
        httpd.server_close()
