"""Web routes of the constituency: organisations (with their networks, contacts, members
and invitations), network overlaps and users. The account pages (sign-in, second factor,
tokens) stay in the project's urls under `accounts/`."""

from django.urls import URLPattern, path

from bulwark.constituency import views

urlpatterns: list[URLPattern] = [
    path("organisations/", views.organisation_list, name="organisation-list"),
    path("organisations/new/", views.organisation_create, name="organisation-create"),
    path("organisations/<int:pk>/", views.organisation_detail, name="organisation-detail"),
    path("organisations/<int:pk>/edit/", views.organisation_edit, name="organisation-edit"),
    path("organisations/<int:pk>/networks/", views.network_add, name="network-add"),
    path(
        "organisations/<int:pk>/networks/<int:claim_pk>/remove/",
        views.network_remove,
        name="network-remove",
    ),
    path("organisations/<int:pk>/contacts/", views.contact_add, name="contact-add"),
    path(
        "organisations/<int:pk>/contacts/<int:contact_pk>/remove/",
        views.contact_remove,
        name="contact-remove",
    ),
    path("organisations/<int:pk>/members/", views.member_add, name="member-add"),
    path(
        "organisations/<int:pk>/members/<int:membership_pk>/remove/",
        views.member_remove,
        name="member-remove",
    ),
    path("organisations/<int:pk>/invitations/", views.invitation_create, name="invitation-create"),
    path(
        "organisations/<int:pk>/invitations/<int:invitation_pk>/resend/",
        views.invitation_resend,
        name="invitation-resend",
    ),
    path(
        "organisations/<int:pk>/invitations/<int:invitation_pk>/revoke/",
        views.invitation_revoke,
        name="invitation-revoke",
    ),
    path("networks/overlaps/", views.network_overlaps, name="network-overlaps"),
    path("users/", views.user_list, name="user-list"),
    path("users/new/", views.user_create, name="user-create"),
    path("users/<int:pk>/", views.user_detail, name="user-detail"),
    path("users/<int:pk>/active/", views.user_set_active, name="user-set-active"),
    path(
        "users/<int:pk>/second-factor/reset/",
        views.user_reset_second_factor,
        name="user-reset-second-factor",
    ),
]
