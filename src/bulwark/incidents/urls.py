from django.urls import path

from bulwark.incidents import views

urlpatterns = [
    path("", views.incident_list, name="incident-list"),
    path("new/", views.incident_create, name="incident-create"),
    path("propose-level/", views.propose, name="incident-propose"),
    path("bulk/", views.incident_bulk, name="incident-bulk"),
    path("filters/", views.filter_save, name="incident-filter-save"),
    path("filters/<int:filter_pk>/delete/", views.filter_delete, name="incident-filter-delete"),
    path("tasks/mine/", views.my_tasks, name="my-tasks"),
    path("templates/", views.case_templates, name="incident-templates"),
    path("<int:pk>/", views.incident_detail, name="incident-detail"),
    path("<int:pk>/evidence/", views.evidence_upload, name="evidence-upload"),
    path(
        "<int:pk>/evidence/<int:evidence_pk>/download/",
        views.evidence_download,
        name="evidence-download",
    ),
    path(
        "<int:pk>/evidence/<int:evidence_pk>/verify/", views.evidence_verify, name="evidence-verify"
    ),
    path("<int:pk>/referrals/", views.referral_create, name="referral-create"),
    path("<int:pk>/tasks/", views.task_add, name="task-add"),
    path(
        "<int:pk>/export/<str:fmt>/",
        views.incident_export,
        name="incident-export",
    ),
    path("<int:pk>/tasks/<int:task_pk>/done/", views.task_done, name="task-done"),
    path(
        "<int:pk>/referrals/<int:referral_pk>/package/",
        views.referral_package,
        name="referral-package",
    ),
    path("<int:pk>/<slug:action>/", views.incident_action, name="incident-action"),
]
