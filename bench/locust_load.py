"""locust scenarios for bench/load_api.py (which starts the server and runs this file).

A user is one client with its own keep-alive connection that, after each answer, thinks
for LOAD_THINK seconds on average (uniform between half and one and a half times that;
0 makes it closed-loop). Every request's latency and outcome is written to LOAD_OUT
as JSON when the run ends, so the percentiles are exact (locust's own CSV rounds them).
A request that gets no HTTP answer within LOAD_TIMEOUT seconds (connect or read), or whose
connection is refused or reset, counts as unanswered."""

import json
import os
import random
import time
from typing import Any

from locust import FastHttpUser, between, constant, events, task

SCENARIO = os.environ.get("LOAD_SCENARIO", "api")
THINK = float(os.environ.get("LOAD_THINK", "1"))
TIMEOUT = float(os.environ.get("LOAD_TIMEOUT", "10"))
TOKEN = os.environ.get("LOAD_TOKEN", "")
ORGANISATIONS = [int(i) for i in os.environ.get("LOAD_ORG_IDS", "1").split(",")]
REFERENCES = os.environ.get("LOAD_REFERENCES", "").split(",")
# The generated agencies claim 10.0.0.0/24, 10.0.1.0/24, ... so every address asked for
# below 10.<LOAD_NET_OCTETS>.0.0 has an owner.
NET_OCTETS = max(1, int(os.environ.get("LOAD_NET_OCTETS", "1")))
RNG = random.Random(20)

samples: list[tuple[float, float, int, str]] = []  # (start, ms, status, error)


@events.request.add_listener
def record(
    response_time: float, response: Any, exception: BaseException | None, **_kw: Any
) -> None:
    status = int(getattr(response, "status_code", 0) or 0)
    error = "" if exception is None else type(exception).__name__ + ": " + str(exception)[:120]
    samples.append((time.time(), float(response_time), status, error))


@events.quitting.add_listener
def dump(**_kw: Any) -> None:
    with open(os.environ["LOAD_OUT"], "w") as fh:
        json.dump(samples, fh)


def think() -> Any:
    return between(THINK * 0.5, THINK * 1.5) if THINK > 0 else constant(0)


def api_path() -> str:
    roll = RNG.random()
    if roll < 0.25:
        return "/api/v1/organisations/?limit=50"
    if roll < 0.40:
        return f"/api/v1/organisations/{RNG.choice(ORGANISATIONS)}/"
    if roll < 0.55:
        return "/api/v1/organisations/?kind=government_agency"
    if roll < 0.70:
        return "/api/v1/networks/?limit=100"
    if roll < 0.85:
        return f"/api/v1/networks/resolve/?ip=10.{RNG.randrange(NET_OCTETS)}.{RNG.randrange(256)}.9"
    return "/api/v1/users/"


def feed_path() -> str:
    lang = RNG.choice(["en", "en", "zh-hant"])
    roll = RNG.random()
    if roll < 0.8:
        name = RNG.choice(["feed.rss", "feed.atom", "feed.json"])
        return f"/publications/{name}?lang={lang}"
    return f"/publications/{RNG.choice(REFERENCES)}/csaf.json?lang={lang}"


class Client(FastHttpUser):
    wait_time = think()
    connection_timeout = TIMEOUT
    network_timeout = TIMEOUT
    max_retries = 0

    @task
    def read(self) -> None:
        if SCENARIO == "api":
            path = api_path()
            headers = {"Authorization": f"Bearer {TOKEN}", "Accept": "application/json"}
            name = path.split("?")[0].rstrip("0123456789/") or path
        else:
            path, headers = feed_path(), {}
            name = path.split("?")[0]
        with self.client.get(path, headers=headers, name=name, catch_response=True) as response:
            if response.status_code != 200:
                response.failure(f"HTTP {response.status_code}")
