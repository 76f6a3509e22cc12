"""Read API under load: 200 concurrent keep-alive clients against `bulwark` served by
waitress, on the demo constituency. Target (docs/PERFORMANCE): p99 <= 500 ms, no errors.

Runs the server in a subprocess on a fresh database (SQLite by default, or DATABASE_URL),
drives it from an asyncio client in this process, and appends a JSON line to
bench/results/api_read_load.jsonl. Usage: python bench/api_read_load.py [--clients 200]
[--requests 20] [--runs 3]
"""

import argparse
import asyncio
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PATHS = [
    "/api/v1/organisations/?limit=50",
    "/api/v1/networks/?limit=100",
    "/api/v1/organisations/?kind=government_agency",
    "/api/v1/networks/resolve/?ip=198.18.17.5",
    "/api/v1/users/",
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def client(
    port: int, token: str, count: int, latencies: list[float], errors: list[str]
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for i in range(count):
            path = PATHS[i % len(PATHS)]
            request = (
                f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
                "Accept: application/json\r\n\r\n"
            )
            started = time.perf_counter()
            writer.write(request.encode())
            await writer.drain()
            status_line = await reader.readline()
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            if b" 200 " not in status_line:
                errors.append(status_line.decode().strip())
    except (ConnectionError, asyncio.IncompleteReadError) as exc:
        errors.append(repr(exc))
    finally:
        writer.close()


async def load(
    port: int, token: str, clients: int, requests: int
) -> tuple[list[float], list[str], float]:
    latencies: list[float] = []
    errors: list[str] = []
    started = time.perf_counter()
    await asyncio.gather(
        *(client(port, token, requests, latencies, errors) for _ in range(clients))
    )
    return latencies, errors, time.perf_counter() - started


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--requests", type=int, default=20, help="per client per run")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2, help="server processes")
    args = parser.parse_args()

    data_dir = tempfile.mkdtemp(prefix="bulwark-bench-")
    env = {**os.environ, "BULWARK_DATA_DIR": data_dir}
    bulwark = [sys.executable, "-m", "bulwark.cli"]
    subprocess.run([*bulwark, "demo", "--no-serve"], env=env, check=True, capture_output=True)
    token = subprocess.run(
        [*bulwark, "token", "create", "--user", "analyst", "--scope", "constituency:read"],
        env=env, check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable, "-m", "gunicorn", "bulwark.wsgi:application",
            "--bind", f"127.0.0.1:{port}", "--workers", str(args.workers),
            "--worker-class", "gthread", "--threads", "4", "--backlog", "1024",
            "--log-level", "warning",
        ],
        env=env,
    )  # fmt: skip
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        asyncio.run(load(port, token, 4, 5))  # warm up
        runs = []
        for _ in range(args.runs):
            latencies, errors, elapsed = asyncio.run(load(port, token, args.clients, args.requests))
            runs.append(
                {
                    "p50_ms": round(percentile(latencies, 0.50) * 1000, 1),
                    "p95_ms": round(percentile(latencies, 0.95) * 1000, 1),
                    "p99_ms": round(percentile(latencies, 0.99) * 1000, 1),
                    "requests": len(latencies),
                    "errors": len(errors),
                    "rps": round(len(latencies) / elapsed, 1),
                }
            )
    finally:
        server.terminate()
        server.wait(timeout=10)
    median = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    result = {
        "bench": "api_read_load",
        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "database": "postgresql" if os.environ.get("DATABASE_URL") else "sqlite",
        "clients": args.clients,
        "server": f"gunicorn {args.workers} workers x 4 threads",
        "runs": runs,
        "median": median,
        "target_p99_ms": 500,
        "meets_target": median["p99_ms"] <= 500 and all(r["errors"] == 0 for r in runs),
        "machine": f"{platform.machine()} {os.cpu_count()} cores",
    }
    print(json.dumps(result, indent=2))
    out = ROOT / "bench" / "results" / "api_read_load.jsonl"
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("a") as fh:
        fh.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
