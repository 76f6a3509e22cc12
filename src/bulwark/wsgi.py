import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bulwark.settings")
application = get_wsgi_application()

# A web server process: no process-wide tuning from inside a request (core/bulk.py).
from bulwark.core import bulk, registry  # noqa: E402

bulk.serving_requests()

# The drill mail's tracking links answered in front of Django's handler (docs/drills.md).
from django.apps import apps  # noqa: E402

if apps.is_installed("bulwark.drills"):
    from bulwark.drills.fastpath import TrackingApp

    application = TrackingApp(application)  # type: ignore[assignment]


def warm_up() -> None:
    """Import what the first request would otherwise import: the URLconf (every app's
    views, and through the statistics pages matplotlib and the forecasting code: 2-4 s on
    a busy two-core machine) before the server takes requests, not during the first
    visitor's page. gunicorn preloads this module, so its workers inherit the imports."""
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018 (loads the URLconf)
    list(registry.PRELOAD)  # what the apps registered (analytics: matplotlib and its fonts)


if os.environ.get("BULWARK_WARM_UP", "1") != "0":
    warm_up()
