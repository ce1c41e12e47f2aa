"""deploy/healthcheck.py, the images' HEALTHCHECK: healthy only on a 2xx answer, fast otherwise.

Docker marks a container unhealthy (and Compose holds back what depends on it) from this exit
code, so a 503 from /readyz, a refused connection or a hung server must all count as unhealthy.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bot.config import PROJECT_ROOT

SCRIPT = PROJECT_ROOT / "deploy" / "healthcheck.py"


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        if self.path == "/slow":
            time.sleep(6)
        status = {"/livez": 200, "/readyz": 503}.get(self.path, 404)
        self.send_response(status)
        self.end_headers()

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def check(url: str) -> tuple[int, float]:
    started = time.monotonic()
    done = subprocess.run([sys.executable, str(SCRIPT), url], capture_output=True, timeout=30)
    return done.returncode, time.monotonic() - started


def test_a_2xx_answer_is_healthy(server: str) -> None:
    assert check(f"{server}/livez")[0] == 0


def test_a_503_or_404_is_unhealthy(server: str) -> None:
    assert check(f"{server}/readyz")[0] == 1
    assert check(f"{server}/missing")[0] == 1


def test_nothing_listening_is_unhealthy() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    assert check(f"http://127.0.0.1:{port}/livez")[0] == 1


def test_a_hung_server_is_unhealthy_within_the_timeout(server: str) -> None:
    code, seconds = check(f"{server}/slow")
    assert code == 1
    assert seconds < 5.5  # the script gives up after 3 s; Docker's own timeout is 5 s
