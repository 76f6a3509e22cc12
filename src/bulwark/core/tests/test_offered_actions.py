"""A page offers only what its reader may do (issue 18): for each demo role, every form on
the incident, advisory and organisation pages it can open is submitted as the page fills
it (each submission rolled back), and none may be refused for want of permission (a 403,
or a PermissionDenied raised by the view or a service). A form the rules forbid is hidden,
not shown and then refused; what fails for its content (an empty field) is not counted."""

import contextlib
from datetime import date, datetime
from html.parser import HTMLParser
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.test import Client

from bulwark.advisories import demo as advisories_demo
from bulwark.advisories.models import Advisory
from bulwark.conftest import sign_in
from bulwark.constituency import demo as constituency_demo
from bulwark.constituency.models import Organisation, User
from bulwark.incidents import demo as incidents_demo
from bulwark.incidents.models import Incident

FILL = {
    "number": "1",
    "email": "someone@example.org",
    "url": "https://example.org/",
    "date": date.today().isoformat(),
    "datetime-local": datetime.now().strftime("%Y-%m-%dT%H:%M"),
    "password": "a long enough passphrase 42",
}
ROLES = ["admin", "duty", "analyst", "reviewer", "orgadmin", "reporter", "reporter2", "isac"]


class Forms(HTMLParser):
    """Each POST form in <main>: its action, the fields as the page fills them, and its
    submit buttons (name, value, label)."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, Any]] = []
        self._main = False
        self._form: dict[str, Any] | None = None
        self._select: str | None = None
        self._textarea: str | None = None
        self._button: dict[str, str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "main":
            self._main = True
        elif tag == "form" and self._main and a.get("method", "get").lower() == "post":
            self._form = {"action": a.get("action", ""), "data": {}, "buttons": []}
            self.forms.append(self._form)
        elif self._form is None:
            return
        elif tag == "input" and a.get("name"):
            kind = a.get("type", "text")
            if kind == "submit":
                self._form["buttons"].append({"name": a["name"], "value": a.get("value", "")})
            elif kind not in ("checkbox", "radio", "file") or "checked" in a:
                # What a person would type where the page leaves a field empty, so that
                # the submission reaches the permission checks behind the form's checks.
                value = a.get("value") or ("" if kind == "hidden" else FILL.get(kind, "Test"))
                self._form["data"].setdefault(a["name"], value)
        elif tag == "select" and a.get("name"):
            self._select = a["name"]
        elif tag == "option" and self._select:
            chosen = self._form["data"].get(self._select)
            if "selected" in a or not chosen:
                self._form["data"][self._select] = a.get("value", "")
        elif tag == "textarea" and a.get("name"):
            self._textarea = a["name"]
            self._form["data"][a["name"]] = ""
        elif tag == "button" and a.get("type", "submit") == "submit":
            self._button = {"name": a.get("name", ""), "value": a.get("value", ""), "label": ""}
            self._form["buttons"].append(self._button)

    def handle_data(self, data: str) -> None:
        if self._form is not None and self._textarea:
            self._form["data"][self._textarea] += data
        if self._button is not None:
            self._button["label"] += data.strip()

    def handle_endtag(self, tag: str) -> None:
        form, name = self._form, self._textarea
        if tag == "textarea" and form is not None and name and not form["data"][name].strip():
            form["data"][name] = "Test text"
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None
        elif tag == "button":
            self._button = None
        elif tag == "main":
            self._main = False


class Rollback(Exception):
    pass


def refused(
    client: Client, page: str, monkeypatch: pytest.MonkeyPatch, tried: list[str]
) -> list[str]:
    """The forms of `page` that, submitted, are refused for want of permission (each
    submission is added to `tried`)."""
    response = client.get(page)
    assert response.status_code == 200, page
    parser = Forms()
    parser.feed(response.content.decode())
    denied: list[BaseException] = []
    original = PermissionDenied.__init__

    def record(self: PermissionDenied, *args: Any, **kwargs: Any) -> None:
        denied.append(self)
        original(self, *args, **kwargs)

    monkeypatch.setattr(PermissionDenied, "__init__", record)
    found = []
    try:
        for form in parser.forms:
            action = form["action"] or page
            for button in form["buttons"] or [{"name": "", "value": "", "label": "?"}]:
                data = dict(form["data"])
                if button["name"]:
                    data[button["name"]] = button["value"]
                denied.clear()
                tried.append(f"{page} {action} {button.get('label')}")
                with contextlib.suppress(Rollback), transaction.atomic():
                    answer = client.post(action, data)
                    raise Rollback
                if answer.status_code == 403 or denied:
                    found.append(f"{page}: {button.get('label')!r} -> {action}")
    finally:
        monkeypatch.setattr(PermissionDenied, "__init__", original)
    return found


@pytest.mark.django_db
def test_every_offered_form_is_allowed_for_every_demo_role(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    constituency_demo.load()
    incidents_demo.load()
    advisories_demo.load()
    problems: list[str] = []
    checked = 0
    tried: list[str] = []
    for username in ROLES:
        user = User.objects.get(username=username)
        client = sign_in(Client(), user)
        pages = [f"/incidents/{pk}/" for pk in Incident.objects.visible_to(user).values_list(
            "pk", flat=True
        ).order_by("pk")[:6]]  # fmt: skip
        pages += [f"/advisories/{a.pk}/" for a in Advisory.objects.visible_to(user)[:8]]
        pages += [f"/organisations/{o.pk}/" for o in Organisation.objects.visible_to(user)[:3]]
        for page in pages:
            checked += 1
            problems += [f"{username} {p}" for p in refused(client, page, monkeypatch, tried)]
    assert checked > 40
    # Every kind of page offered something to someone (the check is not vacuous).
    for kind in ("/incidents/", "/advisories/", "/organisations/"):
        assert any(t.startswith(kind) for t in tried), kind
    assert problems == []
