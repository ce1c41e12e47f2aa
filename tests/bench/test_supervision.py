"""The supervision `make bench` shares with `jecbot run` (bot.runner.Supervisor): children start
in order, and every started child is stopped on leaving, also when a signal interrupts."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import pytest

from bench.config import free_port
from bot.runner import Child, Stop, Supervisor

# A tiny HTTP server answering 200 to every GET: a stand-in for Rasa or the action server.
SERVER = """
import http.server, sys
class Ok(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.end_headers()
    def log_message(self, *args):
        pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Ok).serve_forever()
"""


def _child(name: str, tmp_path: Path) -> Child:
    port = free_port()
    return Child(
        name=name,
        argv=[sys.executable, "-c", SERVER, str(port)],
        health_url=f"http://127.0.0.1:{port}/health",
        log_path=tmp_path / f"{name}.log",
    )


def test_a_signal_leaves_through_the_supervisor_which_stops_every_child(tmp_path: Path) -> None:
    first, second = _child("first", tmp_path), _child("second", tmp_path)
    before = signal.getsignal(signal.SIGTERM)

    with pytest.raises(Stop, match="SIGTERM"):
        with Supervisor(signals=(signal.SIGTERM,)) as supervisor:
            supervisor.start(first, timeout=30)
            supervisor.start(second, timeout=30)
            assert first.exit_code() is None and second.exit_code() is None
            os.kill(os.getpid(), signal.SIGTERM)

    assert first.exit_code() is not None and second.exit_code() is not None
    assert supervisor.started == [] and supervisor.stopped == 2
    assert signal.getsignal(signal.SIGTERM) == before


def test_stop_all_midway_lets_the_next_bot_start_on_a_clean_slate(tmp_path: Path) -> None:
    bare, ours = _child("bare", tmp_path), _child("ours", tmp_path)
    # What Ctrl-C did before (Python's default handler; SIG_IGN when started in the background).
    interrupt = signal.getsignal(signal.SIGINT)

    with Supervisor(signals=(signal.SIGTERM,)) as supervisor:
        supervisor.start(bare, timeout=30)
        supervisor.stop_all()
        assert bare.exit_code() is not None
        assert signal.getsignal(signal.SIGINT) is interrupt
        supervisor.start(ours, timeout=30)
        assert ours.exit_code() is None

    assert ours.exit_code() is not None and supervisor.stopped == 2
