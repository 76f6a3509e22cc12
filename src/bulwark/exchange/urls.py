"""Web routes of the exchange app, included at the site root."""

from django.urls import URLPattern, URLResolver, path

from bulwark.exchange import views

urlpatterns: list[URLPattern | URLResolver] = [
    path("exchange/", views.event_list, name="exchange-events"),
    path("exchange/events/<int:pk>/", views.event_detail, name="exchange-event"),
    path("exchange/notifications/", views.notification_list, name="exchange-notifications"),
    path(
        "exchange/notifications/<int:pk>/",
        views.notification_detail,
        name="exchange-notification",
    ),
    path(
        "exchange/notifications/<int:pk>/resend/",
        views.notification_resend,
        name="exchange-notification-resend",
    ),
    path("exchange/quarantine/", views.quarantine_list, name="exchange-quarantine"),
    path("exchange/quarantine/<int:pk>/", views.quarantine_detail, name="exchange-quarantined"),
    path("exchange/reports/", views.report_list, name="exchange-reports"),
    path("exchange/mappings/", views.mapping_list, name="exchange-mappings"),
    path("exchange/feeds/", views.feed_list, name="exchange-feeds"),
    path(
        "exchange/country-networks/",
        views.country_network_list,
        name="exchange-country-networks",
    ),
    path("exchange/reports/<int:pk>/", views.report_detail, name="exchange-report"),
    path("exchange/statistics/", views.statistics_view, name="exchange-statistics"),
]
