from django.urls import path

from bulwark.incidents import views

urlpatterns = [
    path("", views.incident_list, name="incident-list"),
    path("new/", views.incident_create, name="incident-create"),
    path("propose-level/", views.propose, name="incident-propose"),
    path("<int:pk>/", views.incident_detail, name="incident-detail"),
    path("<int:pk>/<slug:action>/", views.incident_action, name="incident-action"),
]
