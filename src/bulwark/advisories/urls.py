"""Web routes of the advisories app, included at the site root: `advisories/...` for
signed-in users, `publications/...` for everyone (TLP:CLEAR only)."""

from django.urls import URLPattern, URLResolver, path, re_path

from bulwark.advisories import public, views

REFERENCE = r"(?P<reference>BWA-\d{4}-\d{4,6})"

urlpatterns: list[URLPattern | URLResolver] = [
    path("advisories/", views.advisory_list, name="advisory-list"),
    path("advisories/new/", views.advisory_create, name="advisory-create"),
    path("advisories/inventory/", views.inventory, name="advisory-inventory"),
    path(
        "advisories/inventory/<int:item_pk>/remove/",
        views.inventory_remove,
        name="advisory-inventory-remove",
    ),
    path("advisories/<int:pk>/", views.advisory_detail, name="advisory-detail"),
    path("advisories/<int:pk>/edit/", views.advisory_edit, name="advisory-edit"),
    path("advisories/<int:pk>/preview/", views.advisory_preview, name="advisory-preview"),
    path("advisories/<int:pk>/tracking/", views.advisory_tracking, name="advisory-tracking"),
    path(
        "advisories/<int:pk>/attachments/", views.attachment_upload, name="advisory-attachment-add"
    ),
    path(
        "advisories/<int:pk>/attachments/<int:attachment_pk>/",
        views.attachment_download,
        name="advisory-attachment",
    ),
    path(
        "advisories/<int:pk>/targets/<int:target_pk>/respond/",
        views.target_respond,
        name="advisory-respond",
    ),
    path("advisories/<int:pk>/<slug:action>/", views.advisory_action, name="advisory-action"),
    path("publications/", public.publication_list, name="publication-list"),
    path("publications/feed.rss", public.feed_rss, name="publication-rss"),
    path("publications/feed.atom", public.feed_atom, name="publication-atom"),
    path("publications/feed.json", public.feed_json, name="publication-json"),
    re_path(rf"^publications/{REFERENCE}/$", public.publication_detail, name="publication-detail"),
    re_path(
        rf"^publications/{REFERENCE}/csaf\.json$", public.publication_csaf, name="publication-csaf"
    ),
]
