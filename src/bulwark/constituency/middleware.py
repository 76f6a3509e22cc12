from collections.abc import Callable
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice

from bulwark.constituency.access import viewer_of

# Paths a signed-in user who still owes the second factor may reach.
_OPEN_PREFIXES = ("/static/", "/health/", "/i18n/", "/api/")


class SecondFactorRequiredMiddleware:
    """CERT staff, organisation admins and platform admins must verify a TOTP code before
    anything else; without a device they must first enrol one. Anyone else who has set up
    an authenticator app must use it too (or a recovery code). The API authenticates such
    sessions only when verified (see VerifiedSessionAuthentication)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if (
            user.is_authenticated
            and not user.is_verified()  # type: ignore[attr-defined]
            and not request.path.startswith(_OPEN_PREFIXES)
            and (
                viewer_of(user).requires_second_factor
                # Whoever has set up an authenticator (every invited person does) uses it.
                or TOTPDevice.objects.filter(user_id=user.pk, confirmed=True).exists()
            )
        ):
            allowed = {reverse("otp-verify"), reverse("otp-setup"), reverse("logout")}
            if request.path not in allowed:
                # Keep the page the user asked for (a link in an e-mail) across the code.
                target = reverse("otp-verify")
                if request.method == "GET" and request.path != "/":
                    target += "?" + urlencode({"next": request.get_full_path()})
                return redirect(target)
        return self.get_response(request)
