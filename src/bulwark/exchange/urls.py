"""Web (and, for intel, TAXII) routes of the exchange app, included at the site root."""

from django.urls import URLPattern, URLResolver

urlpatterns: list[URLPattern | URLResolver] = []
