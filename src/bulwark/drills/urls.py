"""Web routes of drills: `drills/...` for signed-in users, `d/<token>/...` for the links
of the drill mail (served on the campaign's tracking domain, no sign-in)."""

from django.urls import URLPattern, URLResolver, path, register_converter

from bulwark.drills import report_pdf, views
from bulwark.drills.exercises import views as exercises


class TokenConverter:
    regex = "[A-Za-z0-9_-]{20,64}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(TokenConverter, "drilltoken")

urlpatterns: list[URLPattern | URLResolver] = [
    path("drills/", views.campaign_list, name="drill-list"),
    path("drills/new/", views.campaign_create, name="drill-create"),
    path("drills/<int:pk>/", views.campaign_detail, name="drill-campaign"),
    path("drills/<int:pk>/recipients/", views.campaign_recipients, name="drill-recipients"),
    path("drills/<int:pk>/results.csv", views.campaign_export, name="drill-export"),
    path(
        "drills/<int:pk>/report/<int:organisation>.pdf",
        report_pdf.results_pdf,
        name="drill-results-pdf",
    ),
    path("drills/<int:pk>/<slug:verb>/", views.campaign_action, name="drill-action"),
    path("drills/plans/", views.plan_list, name="drill-plans"),
    path("drills/plans/<int:pk>/", views.plan_detail, name="drill-plan"),
    path("drills/calendar/", views.compliance, name="drill-calendar"),
    path("drills/notices/", views.notice_list, name="drill-notices"),
    path("drills/notices/<int:pk>/", views.notice_detail, name="drill-notice"),
    path("d/<drilltoken:token>/", views.landing, name="drill-landing"),
    path("d/<drilltoken:token>/go", views.track_click, name="drill-click"),
    path("d/<drilltoken:token>/open.gif", views.track_open, name="drill-open"),
    path("d/<drilltoken:token>/a.gif", views.track_attachment, name="drill-attachment"),
    path("d/<drilltoken:token>/seen.gif", views.track_page, name="drill-seen"),
    path("d/<drilltoken:token>/submit", views.track_submit, name="drill-submit"),
    # Exercises (drills/exercises/views.py).
    path("drills/exercises/", exercises.exercise_list, name="exercise-list"),
    path("drills/exercises/new/", exercises.exercise_create, name="exercise-create"),
    path("drills/exercises/<int:pk>/", exercises.exercise_detail, name="exercise-detail"),
    path("drills/exercises/<int:pk>/timeline/", exercises.timeline, name="exercise-timeline"),
    path("drills/exercises/<int:pk>/report/", exercises.report, name="exercise-report"),
    path("drills/exercises/<int:pk>/injects/", exercises.inject_add, name="exercise-inject-add"),
    path(
        "drills/exercises/<int:pk>/injects/<int:inject>/deliver/",
        exercises.inject_deliver,
        name="exercise-inject-deliver",
    ),
    path(
        "drills/exercises/<int:pk>/respond/<int:expectation>/<int:team>/",
        exercises.respond,
        name="exercise-respond",
    ),
    path(
        "drills/exercises/<int:pk>/score/<int:expectation>/<int:team>/",
        exercises.score,
        name="exercise-score",
    ),
    path("drills/exercises/<int:pk>/items/", exercises.item_add, name="exercise-item-add"),
    path("drills/exercises/items/<int:pk>/", exercises.item_update, name="exercise-item"),
    path(
        "drills/exercises/<int:pk>/injects/<int:inject>/edit/",
        exercises.inject_edit,
        name="exercise-inject-edit",
    ),
    path(
        "drills/exercises/<int:pk>/injects/<int:inject>/delete/",
        exercises.inject_delete,
        name="exercise-inject-delete",
    ),
    path(
        "drills/exercises/<int:pk>/teams/<int:team>/players/",
        exercises.players,
        name="exercise-players",
    ),
    path(
        "drills/exercises/<int:pk>/evaluators/",
        exercises.evaluators,
        name="exercise-evaluators",
    ),
    path("drills/exercises/<int:pk>/timeline.csv", exercises.timeline_csv, name="exercise-csv"),
    path("drills/exercises/<int:pk>/timeline.pdf", exercises.timeline_pdf, name="exercise-pdf"),
    path(
        "drills/exercises/<int:pk>/<slug:verb>/", exercises.exercise_action, name="exercise-action"
    ),
]
