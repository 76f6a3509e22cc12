from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.permissions import AllowAny

from bulwark.constituency import views as cv
from bulwark.constituency.forms import QueuedPasswordResetForm, ThrottledAuthenticationForm
from bulwark.constituency.timezones import time_zone_preference
from bulwark.core import views as core
from bulwark.core.metrics import metrics_view


class SchemaView(SpectacularAPIView):
    """The OpenAPI schema is public: it describes the API, it holds no data."""

    scope_exempt = True
    permission_classes = [AllowAny]


class DocsView(SpectacularSwaggerSplitView):
    """Swagger UI with its set-up script served from `?script` instead of inline, and the
    page's styles from a static file: both are refused inline by the CSP."""

    scope_exempt = True
    permission_classes = [AllowAny]
    template_name = "core/swagger_ui.html"


account_patterns = [
    path(
        "login/",
        auth_views.LoginView.as_view(authentication_form=ThrottledAuthenticationForm),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("otp/", cv.otp_verify, name="otp-verify"),
    path("otp/setup/", cv.otp_setup, name="otp-setup"),
    path("security/", cv.account_security, name="account-security"),
    path("security/recovery-codes/", cv.recovery_codes, name="recovery-codes"),
    path("invitation/<str:token>/", cv.invitation_accept, name="invitation-accept"),
    path(
        "password-reset/",
        auth_views.PasswordResetView.as_view(form_class=QueuedPasswordResetForm),
        name="password_reset",
    ),
    path(
        "password-reset/sent/",
        auth_views.PasswordResetDoneView.as_view(),
        name="password_reset_done",
    ),
    path(
        "reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "reset/done/",
        auth_views.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
    path("password/", auth_views.PasswordChangeView.as_view(), name="password_change"),
    path(
        "password/done/", auth_views.PasswordChangeDoneView.as_view(), name="password_change_done"
    ),
    path("tokens/", cv.token_list, name="token-list"),
    path("time-zone/", time_zone_preference, name="time-zone"),
    path("tokens/<int:pk>/revoke/", cv.token_revoke, name="token-revoke"),
]

urlpatterns = [
    path("", core.home, name="home"),
    path("health/", core.health, name="health"),
    path("metrics", metrics_view, name="metrics"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("accounts/", include(account_patterns)),
    path("", include("bulwark.constituency.urls")),
    path("audit/", core.audit_list, name="audit-list"),
    path("notifications/", core.notification_list, name="notification-list"),
    path("incidents/", include("bulwark.incidents.urls")),
    # Each app owns its own prefixes (intel also serves /taxii2/).
    path("", include("bulwark.intel.urls")),
    path("", include("bulwark.exchange.urls")),
    path("", include("bulwark.monitoring.urls")),
    path("", include("bulwark.advisories.urls")),
    path("", include("bulwark.drills.urls")),
    path("", include("bulwark.findings.urls")),
    path("", include("bulwark.analytics.urls")),
    path("", include("bulwark.sso.urls")),
    path("", include("bulwark.training.urls")),
    path("api/v1/", include("bulwark.api_urls", namespace="api")),
    path("api/schema/", SchemaView.as_view(), name="schema"),
    path("api/docs/", DocsView.as_view(url_name="schema"), name="api-docs"),
]
