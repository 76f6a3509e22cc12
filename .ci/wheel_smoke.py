"""Smoke test of a served production install (.ci/wheel_install.sh): /health/ answers 200
and a superuser signs in as far as the second-factor page.

Standard library only. The server believes it sits behind a TLS proxy (BULWARK_TLS=1), so
every request carries `X-Forwarded-Proto: https`; cookies are kept by hand because they
are marked Secure and this hop is plain HTTP.

Usage: python wheel_smoke.py BASE_URL USERNAME PASSWORD
"""

import json
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from http.cookies import SimpleCookie


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


class Browser:
    def __init__(self, base: str) -> None:
        self.base = base.rstrip("/")
        self.origin = "https://" + urllib.parse.urlsplit(self.base).netloc
        self.cookies: dict[str, str] = {}
        self.opener = urllib.request.build_opener(NoRedirect())

    def request(self, path: str, data: dict[str, str] | None = None) -> tuple[int, str, str]:
        """Status, Location header and body of one request (no redirect followed)."""
        headers = {"X-Forwarded-Proto": "https", "Origin": self.origin,
                   "Referer": self.origin + path}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        # Our own server on http://127.0.0.1: no file: or other scheme reaches here.
        req = urllib.request.Request(self.base + path, data=body, headers=headers)  # noqa: S310
        try:
            response = self.opener.open(req, timeout=30)
        except urllib.error.HTTPError as exc:  # 3xx and 4xx/5xx arrive here
            response = exc
        for header in response.headers.get_all("Set-Cookie") or []:
            cookie = SimpleCookie()
            cookie.load(header)
            for name, morsel in cookie.items():
                self.cookies[name] = morsel.value
        text = response.read().decode("utf-8", "replace")
        return response.status, response.headers.get("Location", ""), text

    def follow(self, path: str, data: dict[str, str] | None = None) -> tuple[str, str, list[str]]:
        """Follow redirects; the final path, its body and every hop."""
        hops = [path]
        status, location, text = self.request(path, data)
        while status in (301, 302, 303) and len(hops) < 10:
            path = urllib.parse.urlsplit(location).path + (
                "?" + urllib.parse.urlsplit(location).query if "?" in location else ""
            )
            hops.append(path)
            status, location, text = self.request(path)
        if status != 200:
            raise SystemExit(f"smoke: {hops[-1]} answered {status}: {text[:500]}")
        return path, text, hops


def main(base: str, username: str, password: str) -> None:
    browser = Browser(base)
    deadline = time.monotonic() + 60
    while True:
        try:
            status, _location, text = browser.request("/health/")
            break
        except OSError:
            if time.monotonic() > deadline:
                raise SystemExit("smoke: the server did not answer /health/ within 60 s") from None
            time.sleep(0.5)
    if status != 200 or json.loads(text).get("status") != "ok":
        raise SystemExit(f"smoke: /health/ answered {status}: {text[:500]}")
    print(f"smoke: /health/ 200 {text}")

    page, text, _hops = browser.follow("/accounts/login/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', text)
    if token is None or "csrftoken" not in browser.cookies:
        raise SystemExit("smoke: the login page has no CSRF token")
    form = {"csrfmiddlewaretoken": token.group(1), "username": username, "password": password}
    page, text, hops = browser.follow("/accounts/login/", form)
    if page != "/accounts/otp/setup/" or 'name="token"' not in text:
        raise SystemExit(
            f"smoke: sign-in did not reach the second-factor page: {hops}\n{text[:800]}"
        )
    if "<svg" not in text:
        raise SystemExit("smoke: the second-factor page shows no QR code")
    print(f"smoke: signed in as {username}: {' -> '.join(hops)}")


if __name__ == "__main__":
    main(*sys.argv[1:4])
