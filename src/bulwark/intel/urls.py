"""Web (and TAXII 2.1) routes of the intel app, included at the site root."""

from django.urls import URLPattern, URLResolver, path, re_path

from bulwark.intel import misp_api, taxii_server, views

_COLL = "taxii2/api/collections/<str:collection_id>/"

urlpatterns: list[URLPattern | URLResolver] = [
    path("taxii2/", taxii_server.discovery, name="taxii-discovery"),
    path("taxii2/api/", taxii_server.api_root, name="taxii-api-root"),
    path("taxii2/api/status/<str:status_id>/", taxii_server.status, name="taxii-status"),
    path("taxii2/api/collections/", taxii_server.collections, name="taxii-collections"),
    path(_COLL, taxii_server.collection, name="taxii-collection"),
    path(_COLL + "objects/", taxii_server.objects, name="taxii-objects"),
    path(_COLL + "objects/<str:object_id>/", taxii_server.object_detail, name="taxii-object"),
    path(
        _COLL + "objects/<str:object_id>/versions/",
        taxii_server.versions,
        name="taxii-object-versions",
    ),
    path(_COLL + "manifest/", taxii_server.manifest, name="taxii-manifest"),
    # MISP-compatible reads (PyMISP, MISP feeds): exact paths, no trailing slash, as MISP has
    path("misp/servers/getVersion", misp_api.get_version),
    path("misp/servers/getVersion.json", misp_api.get_version),
    path("misp/servers/getPyMISPVersion.json", misp_api.get_version),
    path("misp/users/view/me", misp_api.user_me),
    path("misp/users/view/me.json", misp_api.user_me),
    path("misp/attributes/describeTypes.json", misp_api.describe_types),
    path("misp/events/restSearch", misp_api.events_rest_search, name="misp-events-search"),
    path("misp/attributes/restSearch", misp_api.attributes_rest_search),
    path("misp/events/view/<str:ident>", misp_api.event_view),
    path("misp/feed/manifest.json", misp_api.feed_manifest, name="misp-feed-manifest"),
    path("misp/feed/hashes.csv", misp_api.feed_hashes, name="misp-feed-hashes"),
    path("misp/feed/<uuid:ident>.json", misp_api.feed_event, name="misp-feed-event"),
    # Last of the TAXII routes; ends in a slash so that CommonMiddleware still redirects
    # a path missing its slash to the endpoint.
    re_path(r"^taxii2/(?P<rest>.*/)$", taxii_server.not_found, name="taxii-not-found"),
    path("intel/", views.intel_home, name="intel-home"),
    path("intel/share/", views.share, name="intel-share"),
    path("intel/review/", views.review, name="intel-review"),
    path("intel/submissions/<int:pk>/", views.submission_detail, name="intel-submission"),
    path("intel/indicators/<int:pk>/", views.indicator_detail, name="intel-indicator"),
    path("intel/values/<str:kind>/<path:value>", views.value_detail, name="intel-value"),
    path("intel/exports/<str:fmt>/", views.export, name="intel-export"),
]
