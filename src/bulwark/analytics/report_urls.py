"""Annual report routes, included under `stats/` by the project's urls."""

from django.urls import URLPattern, path

from bulwark.analytics import report_views

urlpatterns: list[URLPattern] = [
    path("report/annual/", report_views.annual_report, name="stats-annual-report"),
    path("report/texts/", report_views.report_texts, name="stats-report-texts"),
    path("report/annual/jobs/", report_views.annual_report_job, name="stats-annual-report-jobs"),
    path(
        "report/annual/jobs/<uuid:uuid>/",
        report_views.annual_report_job_status,
        name="stats-annual-report-job",
    ),
    path(
        "report/annual/jobs/<uuid:uuid>/pdf/",
        report_views.annual_report_job_pdf,
        name="stats-annual-report-job-pdf",
    ),
]
