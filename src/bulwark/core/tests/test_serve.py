"""`bulwark serve` runs gunicorn with the measured production settings."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_serve_answers_http_with_the_production_settings(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["BULWARK_DATA_DIR"] = str(tmp_path)  # a fresh SQLite file: the server only answers
    server = subprocess.Popen(
        [sys.executable, "-m", "bulwark.cli", "serve", "--bind", f"127.0.0.1:{port}",
         "--workers", "1"],
        env=env, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        body = None
        for _ in range(150):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health/", timeout=5) as r:
                    body = json.loads(r.read())
                break
            except OSError:
                assert server.poll() is None, server.stderr.read() if server.stderr else ""
                time.sleep(0.2)
        assert body is not None and body["database"]["ok"] is True
    finally:
        server.send_signal(signal.SIGTERM)
        _out, log = server.communicate(timeout=30)
    assert server.returncode == 0, log
    assert "Using worker: gthread" in log
    assert f"Listening at: http://127.0.0.1:{port}" in log
