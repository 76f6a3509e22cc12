"""Web routes of the statistics app: `stats/...` (the dashboards, the annual report and
its text blocks)."""

from django.urls import URLPattern, URLResolver, include, path

from bulwark.analytics import views

urlpatterns: list[URLPattern | URLResolver] = [
    path("stats/", views.dashboard, name="stats-dashboard"),
    path("stats/subscription/", views.subscription, name="stats-subscription"),
    path("stats/chart/", views.chart, name="stats-chart"),
    path("stats/", include("bulwark.analytics.report_urls")),
]
