"""Writers only in services (issue 21): an AST scan of every module of the platform fails on
an ORM write outside `<app>/services.py` (or an `<app>/services/` package), except in the
modules named below, each with the reason it may write.

A write, as the scanner sees it:
- `.save(`, `.bulk_create(`, `.bulk_update(`, `.get_or_create(`, `.update_or_create(`, and
  `.delete()` with no argument (a model instance or a queryset; `cache.delete(key)` has
  one);
- `.create(`, `.update(`, `.delete(`, `.add(`, `.remove(`, `.set(`, `.clear(` on a receiver
  that goes through a manager or related-manager name (read from the installed models:
  `objects`, `tags`, `notes`, `*_set`, ...) or through a queryset method (`filter`,
  `exclude`, `all`, `select_for_update`, ...), so that `seen.add(x)` on a set is not one;
- `.update(` or `.delete(` on a name the module binds to such a queryset
  (`qs = Model.objects.filter(...)`, then `qs.update(state=...)`).
A call on `super()` (a model's or form's own `save`) is not counted: the write is where
that `save` is called. Raw SQL (`cursor.execute`) is not seen; the bulk modules that use it
are named below anyway.
"""

import ast
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from django.apps import apps

import bulwark

ROOT = Path(bulwark.__file__).parent

# Modules that may write without being a service, by path under src/bulwark/. Keep it short;
# each entry says why. A directory part or file name listed in WRITERS_BY_KIND covers
# every module of that kind.
WRITERS_BY_KIND = {
    "migrations": "schema and data migrations",
    "tests": "tests build their own rows",
    "demo.py": "demo data, loaded by `bulwark demo` (mostly through services)",
    "demo": "demo data in a demo/ package (analytics: the bulk-written history)",
    "conftest.py": "test fixtures",
}
ALLOWED_WRITERS = {
    # The audit chain itself: a service's audit entry cannot be written by an audited service.
    "core/audit.py": "writes the audit chain",
    # Bulk engines: called by their app's ingest service (which checks and audits the
    # ingest), they store rows in batches for speed (COPY, bulk_create, raw SQL).
    "core/bulk.py": "bulk engine (COPY and batched inserts)",
    "exchange/store.py": "bulk engine of exchange.services.ingest",
    "intel/ingest.py": "bulk engine of intel.services.ingest_objects",
    "monitoring/streaming.py": "bulk engine of monitoring's log matching",
    # Per-request counters: one audit entry per sign-in attempt or API call would flood the
    # log; the sign-in, reset and token events themselves are audited.
    "constituency/throttle.py": "login-failure and reset-mail counters",
    "constituency/api/authentication.py": "an API token's last-used stamp",
}
# Known drift (issue 21): writers still outside services. Empty since session 29 moved the
# last seven (exchange notify and TAXII client, incidents alerts, evidence and referrals,
# MISP import, TAXII server) into their services. An entry must say why; the test fails when
# a listed module no longer writes, so the list only shrinks.
DRIFT: dict[str, str] = {}


ALWAYS = frozenset({"save", "bulk_create", "bulk_update", "get_or_create", "update_or_create"})
ON_MANAGER = frozenset({"create", "update", "delete", "add", "remove", "set", "clear"})
QUERYSET_METHODS = frozenset(
    {
        "filter",
        "exclude",
        "all",
        "select_for_update",
        "select_related",
        "prefetch_related",
        "order_by",
        "only",
        "defer",
        "annotate",
        "distinct",
        "using",
        "none",
    }
)


@dataclass(frozen=True)
class Write:
    line: int
    call: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.call}"


def _chain(node: ast.expr) -> list[str]:
    """Attribute and call names along a receiver, e.g. `Model.objects.filter(x)` ->
    ['Model', 'objects', 'filter()']."""
    names: list[str] = []
    while True:
        if isinstance(node, ast.Call):
            if isinstance(node.func, ast.Attribute):
                names.append(node.func.attr + "()")
                node = node.func.value
                continue
            if isinstance(node.func, ast.Name):
                names.append(node.func.id + "()")
            return names[::-1]
        if isinstance(node, ast.Attribute):
            names.append(node.attr)
            node = node.value
            continue
        if isinstance(node, ast.Name):
            names.append(node.id)
        return names[::-1]


def _through_orm(
    chain: list[str], related: frozenset[str], managers: frozenset[str], querysets: set[str]
) -> bool:
    """Whether a receiver goes through a manager, a related manager or a queryset."""
    if chain and chain[0] in querysets:
        return True
    for part in chain[1:]:
        name = part.removesuffix("()")
        if part.endswith("()") and name in QUERYSET_METHODS:
            return True
        if not part.endswith("()") and (
            name in managers or name in related or name.endswith("_set")
        ):
            return True
    return False


def _is_write(
    call: ast.Call, related: frozenset[str], managers: frozenset[str], querysets: set[str]
) -> bool:
    func = call.func
    if not isinstance(func, ast.Attribute):
        return False
    receiver = _chain(func.value)
    if receiver == ["super()"]:
        # An override handing on to Django's own save/delete: the write is where it is called.
        return False
    verb = func.attr
    if verb in ALWAYS:
        return True
    if verb not in ON_MANAGER:
        return False
    if verb == "delete" and not call.args and not call.keywords:
        return True
    return _through_orm(receiver, related, managers, querysets)


def orm_writes(
    source: str, related_names: Iterable[str] = (), manager_names: Iterable[str] = ("objects",)
) -> list[Write]:
    """The ORM writes in one module's source, in line order."""
    related = frozenset(related_names)
    managers = frozenset(manager_names)
    tree = ast.parse(source)
    # Names bound to a queryset anywhere in the module (`qs = Model.objects.filter(...)`),
    # so that a later `qs.update(...)` or `qs.delete()` is seen as one.
    querysets: set[str] = set()
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Assign | ast.AnnAssign)
            and node.value is not None
            and _through_orm(["_", *_chain(node.value)], related, managers, querysets)
        ):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            querysets.update(t.id for t in targets if isinstance(t, ast.Name))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and _is_write(node, related, managers, querysets):
            found.append(Write(node.lineno, ast.unparse(node.func)))
    return sorted(found, key=lambda w: w.line)


def _model_names() -> tuple[set[str], set[str]]:
    """Related-manager names (m2m fields and reverse accessors) and manager names of every
    installed model."""
    related: set[str] = set()
    managers: set[str] = {"objects"}
    for model in apps.get_models(include_auto_created=True):
        managers.update(m.name for m in model._meta.managers)
        for field in model._meta.get_fields(include_hidden=True):
            if field.many_to_many and not field.auto_created:
                related.add(field.name)
            elif field.auto_created and (field.one_to_many or field.many_to_many):
                accessor = field.get_accessor_name()  # type: ignore[union-attr]
                if accessor:
                    related.add(accessor)
    return related, managers


def _covered(relative: Path) -> bool:
    path = relative.as_posix()
    if path in ALLOWED_WRITERS or path in DRIFT:
        return True
    if relative.parts[-1] == "services.py" or "services" in relative.parts[1:-1]:
        return True
    return any(part in WRITERS_BY_KIND for part in relative.parts)


def writers_outside_services() -> dict[str, list[Write]]:
    related, managers = _model_names()
    found = {}
    for path in sorted(ROOT.rglob("*.py")):
        relative = path.relative_to(ROOT)
        if _covered(relative):
            continue
        writes = orm_writes(path.read_text(encoding="utf-8"), related, managers)
        if writes:
            found[relative.as_posix()] = writes
    return found


def test_only_services_write() -> None:
    stray = writers_outside_services()
    assert not stray, "ORM writes outside services (move them into <app>/services.py):\n" + (
        "\n".join(f"  {m}: {', '.join(map(str, w))}" for m, w in stray.items())
    )


def test_the_allowed_and_drifting_modules_still_exist_and_write() -> None:
    """The lists only shrink: a module that moved its writes to a service leaves them."""
    related, managers = _model_names()
    for name in [*ALLOWED_WRITERS, *DRIFT]:
        path = ROOT / name
        assert path.exists(), f"{name} is listed but does not exist"
        if name == "core/bulk.py":
            continue  # writes through raw SQL only, which the scanner does not see
        assert orm_writes(path.read_text(encoding="utf-8"), related, managers), (
            f"{name} no longer writes: take it off the list"
        )


# --- The scanner itself, on small sources -----------------------------------------------

RELATED = {"tags", "notes"}


def _found(source: str) -> list[str]:
    return [w.call for w in orm_writes(source, RELATED, {"objects"})]


def test_a_save_in_a_view_is_found() -> None:
    view = """
def incident_close(request, pk):
    incident = Incident.objects.get(pk=pk)
    incident.state = "closed"
    incident.save()
    return redirect("incident", pk=pk)
"""
    assert _found(view) == ["incident.save"]


def test_manager_queryset_and_related_writes_are_found() -> None:
    source = """
Incident.objects.create(title="x")
Incident.objects.filter(pk=1).update(state="closed")
Incident.objects.get_or_create(pk=1)
incident.tags.add(tag)
incident.notes.all().delete()
incident.timeline_set.create(text="x")
qs = Incident.objects.exclude(state="closed")
qs.update(level=2)
incident.delete()
Model.objects.bulk_create(rows)
"""
    assert _found(source) == [
        "Incident.objects.create",
        "Incident.objects.filter(pk=1).update",
        "Incident.objects.get_or_create",
        "incident.tags.add",
        "incident.notes.all().delete",
        "incident.timeline_set.create",
        "qs.update",
        "incident.delete",
        "Model.objects.bulk_create",
    ]


def test_ordinary_python_is_not_a_write() -> None:
    source = """
seen = set()
seen.add(1)
seen.remove(1)
options = {}
options.update(name="x")
options.update({"a": 1})
cache.delete("key")
parts.clear()
os.remove(path)
class Form:
    def save(self):
        return super().save()
Incident.objects.filter(pk=1).first()
"""
    assert _found(source) == []
