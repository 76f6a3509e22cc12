"""Web routes of the findings app, under /findings/."""

from django.urls import URLPattern, URLResolver, path

from bulwark.findings import report_pdf, views

urlpatterns: list[URLPattern | URLResolver] = [
    path("findings/", views.dashboard, name="findings-dashboard"),
    path("findings/list/", views.finding_list, name="findings-list"),
    path("findings/checklists/", views.checklists, name="findings-checklists"),
    path("findings/engagements/", views.engagement_list, name="findings-engagements"),
    path("findings/engagements/new/", views.engagement_create, name="findings-engagement-create"),
    path("findings/engagements/<int:pk>/", views.engagement_detail, name="findings-engagement"),
    path(
        "findings/engagements/<int:pk>/status/",
        views.engagement_status,
        name="findings-engagement-status",
    ),
    path(
        "findings/engagements/<int:pk>/import/",
        views.engagement_import,
        name="findings-engagement-import",
    ),
    path(
        "findings/engagements/<int:pk>/manual/",
        views.manual_finding,
        name="findings-manual",
    ),
    path(
        "findings/engagements/<int:pk>/checklist/",
        views.checklist_result,
        name="findings-checklist-result",
    ),
    path(
        "findings/engagements/<int:pk>/report.pdf",
        report_pdf.engagement_pdf,
        name="findings-engagement-pdf",
    ),
    path("findings/imports/<int:pk>/", views.import_detail, name="findings-import"),
    path("findings/imports/<int:pk>/file/", views.import_file, name="findings-import-file"),
    path(
        "findings/imports/<int:pk>/mapping/", views.import_mapping, name="findings-import-mapping"
    ),
    path("findings/<int:pk>/", views.finding_detail, name="findings-finding"),
    path(
        "findings/<int:pk>/evidence/<int:event_pk>/",
        views.evidence_file,
        name="findings-evidence",
    ),
    path("findings/<int:pk>/<slug:action>/", views.finding_action, name="findings-action"),
]
