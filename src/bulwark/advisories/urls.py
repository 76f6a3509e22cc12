"""Web routes of the advisories app, included at the site root: `advisories/...` for
signed-in users, `publications/...` for everyone (TLP:CLEAR only)."""

from django.urls import URLPattern, URLResolver, path, re_path

from bulwark.advisories import public, views

REFERENCE = r"(?P<reference>BWA-\d{4}-\d{4,6})"
# A CSAF file name (CSAF 2.0 section 5.1).
CSAF_FILE = r"[+\-a-z0-9_]+\.json"

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
    # The CSAF 2.0 provider (advisories/provider.py; CSAF 2.0 section 7.1).
    path(
        ".well-known/csaf/provider-metadata.json",
        public.csaf_provider_metadata,
        name="csaf-provider-metadata",
    ),
    path(".well-known/csaf/service.json", public.csaf_rolie_service, name="csaf-rolie-service"),
    path(".well-known/csaf/white/", public.csaf_directory, name="csaf-directory"),
    path(
        ".well-known/csaf/white/category-white.json",
        public.csaf_rolie_category,
        name="csaf-rolie-category",
    ),
    path(
        ".well-known/csaf/white/csaf-feed-tlp-white.json",
        public.csaf_rolie_feed,
        name="csaf-rolie-feed",
    ),
    path(".well-known/csaf/white/index.txt", public.csaf_index, name="csaf-index"),
    path(".well-known/csaf/white/changes.csv", public.csaf_changes, name="csaf-changes"),
    re_path(r"^\.well-known/csaf/white/(?P<year>\d{4})/$", public.csaf_year, name="csaf-year"),
    re_path(
        rf"^\.well-known/csaf/white/(?P<year>\d{{4}})/(?P<name>{CSAF_FILE})$",
        public.csaf_document,
        name="csaf-document",
    ),
    re_path(
        rf"^\.well-known/csaf/white/(?P<year>\d{{4}})/(?P<name>{CSAF_FILE})\.(?P<kind>sha256|sha512|asc)$",
        public.csaf_document_file,
        name="csaf-document-file",
    ),
    re_path(
        r"^\.well-known/csaf/openpgp/(?P<fingerprint>[0-9A-F]{40,64})\.asc$",
        public.csaf_openpgp_key,
        name="csaf-openpgp-key",
    ),
]
