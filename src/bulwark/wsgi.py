import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bulwark.settings")
application = get_wsgi_application()

# A web server process: no process-wide tuning from inside a request (core/bulk.py).
from bulwark.core import bulk  # noqa: E402

bulk.serving_requests()
