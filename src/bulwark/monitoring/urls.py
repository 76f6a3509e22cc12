"""Web routes of the monitoring app, included at the site root."""

from django.urls import URLPattern, URLResolver, path

from bulwark.monitoring import views

urlpatterns: list[URLPattern | URLResolver] = [
    path("monitoring/alerts/", views.alert_list, name="monitoring-alerts"),
    path("monitoring/alerts/<int:pk>/", views.alert_detail, name="monitoring-alert-detail"),
    path("monitoring/alerts/<int:pk>/triage/", views.alert_triage, name="monitoring-alert-triage"),
    path(
        "monitoring/alerts/<int:pk>/lines/<int:index>/",
        views.alert_line,
        name="monitoring-alert-line",
    ),
    path("monitoring/sightings/", views.sighting_list, name="monitoring-sightings"),
]
