"""gunicorn's settings for production: `bulwark serve`, or
`gunicorn -c python:bulwark.gunicorn_conf bulwark.wsgi:application`.

The values are the ones bench/load_api.py measured (docs/operations.md, "Capacity");
each can be overridden from the environment or on gunicorn's command line."""

import logging
import os

# Where to listen; a TLS-terminating proxy sits in front (docs/operations.md).
bind = [os.environ.get("BULWARK_BIND", "127.0.0.1:8000")]
# One process per core: a Python process runs Python on one core at a time.
workers = int(os.environ.get("WEB_CONCURRENCY") or os.cpu_count() or 2)
# Threads overlap the database round trips of one process's requests; keep-alive
# connections wait in the worker's poller, not in a thread, so threads bound only the
# requests in progress.
worker_class = "gthread"
threads = int(os.environ.get("BULWARK_WEB_THREADS", "8"))
# Connections a worker holds open at once (idle keep-alive ones included); past this a
# worker stops accepting and the kernel queues new connections in the backlog.
worker_connections = 1000
backlog = 2048
# An idle keep-alive connection is closed after this many seconds.
keepalive = 5
# A request that runs longer than this has the worker restarted.
timeout = 30
graceful_timeout = 30
# The application is loaded once before forking, so workers share its memory and a
# broken configuration fails at start, not at the first request.
preload_app = True  # when_ready below relies on it


def when_ready(server: object) -> None:
    """Import every view before the workers fork. Django loads the URLconf, and with it
    every app's views and what they import (DRF, the schema generator, numpy, scipy,
    matplotlib), at a process's first request: 3-10 s in which that worker answered
    nothing while it kept accepting connections. Loaded here, once, the forked workers
    share it and answer from their first request."""
    from django.db import connections
    from django.urls import get_resolver

    get_resolver().reverse_dict  # noqa: B018 - resolving the patterns imports the views
    try:
        # The public feeds, rendered once here, are in every worker's cache from its start.
        from bulwark.advisories.public import warm_feeds

        warm_feeds()
    except Exception:  # the server starts without them (e.g. before `bulwark migrate`)
        logging.getLogger("bulwark").warning("public feeds not rendered at start", exc_info=True)
    connections.close_all()  # no connection may be shared across fork
