"""The firm HTTP client honours the proxy settings of the service's environment, read at start-up."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from connectors.http_client import Deadline, FirmHttp


class _Recorder(BaseHTTPRequestHandler):
    """Answers every GET with {"ok": true} and records the request line it got."""

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self.server.lines.append(self.requestline)  # type: ignore[attr-defined]
        body = json.dumps({"ok": True}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def servers():
    """A firm and a forward proxy, both on 127.0.0.1."""
    started = []
    for _ in range(2):
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
        server.lines = []  # type: ignore[attr-defined]
        threading.Thread(target=server.serve_forever, daemon=True).start()
        started.append(server)
    yield started
    for server in started:
        server.shutdown()
        server.server_close()


def test_calls_go_through_the_proxy_the_environment_names(servers, monkeypatch):
    firm, proxy = servers
    firm_url = f"http://127.0.0.1:{firm.server_port}"
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy.server_port}")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    http = FirmHttp("TOPSTEP", firm_url)
    monkeypatch.delenv("HTTP_PROXY")  # read once, when the connector was built
    try:
        assert http.read("GET", "/api/Account/search", deadline=Deadline(2.0)) == {"ok": True}
    finally:
        http.close()
    assert proxy.lines == [f"GET {firm_url}/api/Account/search HTTP/1.1"]  # the absolute form: proxied
    assert firm.lines == []


def test_no_proxy_still_exempts_the_firms_host(servers, monkeypatch):
    firm, proxy = servers
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy.server_port}")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    http = FirmHttp("TOPSTEP", f"http://127.0.0.1:{firm.server_port}")
    try:
        assert http.read("GET", "/api/Account/search", deadline=Deadline(2.0)) == {"ok": True}
    finally:
        http.close()
    assert (firm.lines, proxy.lines) == (["GET /api/Account/search HTTP/1.1"], [])
