"""A local webhook receiver on 127.0.0.1 for notification tests (real HTTP, loopback only)."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


class Receiver:
    """A local webhook receiver on 127.0.0.1 that records bodies; can be made to hang."""

    def __init__(self):
        self.bodies: list[tuple[str, dict]] = []
        self.release = threading.Event()
        self.release.set()
        self.got = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                receiver.release.wait(timeout=20)
                with receiver.got:
                    receiver.bodies.append((self.path, body))
                    receiver.got.notify_all()
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, count: int, timeout: float = 10.0) -> list[tuple[str, dict]]:
        with self.got:
            self.got.wait_for(lambda: len(self.bodies) >= count, timeout=timeout)
            return list(self.bodies)

    def close(self):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    """A Receiver for one test (import the fixture into the test module)."""
    r = Receiver()
    yield r
    r.close()
