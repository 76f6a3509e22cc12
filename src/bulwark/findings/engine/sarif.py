"""SARIF 2.1.0 (static analysis results of many tools: CodeQL, Semgrep, Bandit, gitleaks,
dependency-check, SpotBugs...): one finding per result.

Streaming with ijson: each run's tool, rules and artifacts are built as objects (they are
small next to the results), each result is built, turned into a finding and dropped. A
result seen before its run's rules (rare; the spec does not fix the order) waits for the
end of the run, at most MAX_WAITING of them.

Severity: the rule's GitHub-style `security-severity` score when given (CVSS ranges),
else the SARIF level (result, else the rule's default, else "warning"): error -> high,
warning -> medium, note -> low, none -> info. Results of kind pass / notApplicable are not
findings; results suppressed per the spec (a suppression whose status is absent or
"accepted") are skipped.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import ijson  # type: ignore[import-untyped]

from .model import (
    Asset,
    ParsedFinding,
    ParseError,
    Severity,
    clean,
    cves_in,
    cwes_in,
    evidence,
    iso_time,
    severity_from_score,
    to_float,
    url_without_query,
)
from .streams import Readable, json_events

TOOL = "sarif"
MAX_WAITING = 200_000
_LEVEL: dict[str, Severity] = {"error": "high", "warning": "medium", "note": "low", "none": "info"}
_ARGUMENT = re.compile(r"\{(\d+)\}")


class _Run:
    def __init__(self) -> None:
        self.parts: dict[str, Any] = {}
        self.rules: dict[str, dict[str, Any]] = {}
        self.rule_list: list[dict[str, Any]] = []
        self.ready = False
        self.waiting: list[dict[str, Any]] = []
        self.repository = ""
        self.observed: datetime | None = None

    def prepare(self) -> None:
        tool = self.parts.get("tool")
        if not isinstance(tool, dict):
            return
        components = [tool.get("driver") or {}, *(tool.get("extensions") or [])]
        for component in components:
            if not isinstance(component, dict):
                continue
            for rule in component.get("rules") or []:
                if isinstance(rule, dict) and isinstance(rule.get("id"), str):
                    self.rules.setdefault(rule["id"], rule)
        driver = tool.get("driver") or {}
        self.rule_list = [r for r in (driver.get("rules") or []) if isinstance(r, dict)]
        self.ready = True

    def took(self, key: str) -> None:
        """A run property was read: keep what the results need from it. Properties after
        the results (the spec fixes no order) only reach the results still waiting."""
        if key == "tool":
            self.prepare()
        elif key == "versionControlProvenance":
            provenance = self.parts.get(key) or []
            if provenance and isinstance(provenance[0], dict):
                uri = str(provenance[0].get("repositoryUri") or "")
                self.repository = url_without_query(uri)
        elif key == "invocations":
            for invocation in self.parts.get(key) or []:
                if isinstance(invocation, dict):
                    when = invocation.get("endTimeUtc") or invocation.get("startTimeUtc")
                    if isinstance(when, str):
                        self.observed = iso_time(when)
                        break


def parse(stream: Readable) -> Iterator[ParsedFinding]:
    events = json_events(stream)
    first = next(events, None)
    if first is None:
        raise ParseError("The SARIF file is empty.")
    if first[1] != "start_map":
        raise ParseError("Not a SARIF file: the top level is not a JSON object.")
    version = ""
    saw_runs = False
    for prefix, event, value in events:
        if prefix == "" and event == "map_key":
            if value == "runs":
                saw_runs = True
            continue
        if prefix == "version" and event == "string":
            version = value
            if not version.startswith("2."):
                raise ParseError(f"SARIF version {version} is not supported (2.1.0 is).")
        elif prefix == "runs.item" and event == "start_map":
            yield from _run(events)
    if not saw_runs:
        raise ParseError('Not a SARIF file: there is no "runs" array.')
    if not version:
        raise ParseError('Not a SARIF file: there is no "version".')


def _build(events: Iterator[tuple[str, str, Any]], event: str, value: Any) -> Any:
    """The JSON value whose first event is (event, value), built from the stream."""
    if event not in ("start_map", "start_array"):
        return value
    builder = ijson.ObjectBuilder()
    builder.event(event, value)
    depth = 1
    for _, next_event, next_value in events:
        builder.event(next_event, next_value)
        if next_event in ("start_map", "start_array"):
            depth += 1
        elif next_event in ("end_map", "end_array"):
            depth -= 1
            if depth == 0:
                return builder.value
    raise ParseError("The SARIF file is truncated.")


def _run(events: Iterator[tuple[str, str, Any]]) -> Iterator[ParsedFinding]:
    run = _Run()
    key = ""
    for prefix, event, value in events:
        if prefix == "runs.item":
            if event == "map_key":
                key = value
                continue
            if event == "end_map":
                break
        if key == "results" and prefix == "runs.item.results":
            if event == "start_array":
                continue
            if event == "end_array":
                key = ""
                continue
        if key == "results" and prefix == "runs.item.results.item" and event == "start_map":
            result = _build(events, event, value)
            if not run.ready:
                run.waiting.append(result)
                if len(run.waiting) > MAX_WAITING:
                    raise ParseError(
                        "The SARIF run lists more than 200,000 results before its tool and "
                        'rules; put "tool" before "results".'
                    )
                continue
            finding = _finding(run, result)
            if finding is not None:
                yield finding
            continue
        if key and key != "results":
            run.parts[key] = _build(events, event, value)
            run.took(key)
            key = ""
        elif key == "results" and event == "null":
            key = ""
    else:
        raise ParseError("The SARIF file is truncated.")
    if not run.ready:
        if run.waiting:
            raise ParseError('A SARIF run has results but no "tool".')
        return
    for result in run.waiting:
        finding = _finding(run, result)
        if finding is not None:
            yield finding


def _text(value: Any) -> str:
    if isinstance(value, dict):
        return str(value.get("text") or value.get("markdown") or "")
    return ""


def _headline(text: str) -> str:
    """A title from a description: its first line, cut at a word near 200 characters."""
    line = clean(text).split("\n", 1)[0].strip()
    if len(line) <= 200:
        return line
    cut = line[:200].rsplit(" ", 1)[0]
    return cut + "…"


def _suppressed(result: dict[str, Any]) -> bool:
    for suppression in result.get("suppressions") or []:
        if isinstance(suppression, dict) and suppression.get("status") in (None, "accepted"):
            return True
    return False


def _message(result: dict[str, Any], rule: dict[str, Any]) -> str:
    message = result.get("message") or {}
    if not isinstance(message, dict):
        return ""
    text = str(message.get("text") or message.get("markdown") or "")
    if not text and message.get("id"):
        text = _text((rule.get("messageStrings") or {}).get(message["id"]))
    arguments = message.get("arguments") or []
    if arguments and text:
        text = _ARGUMENT.sub(
            lambda m: (
                str(arguments[int(m.group(1))]) if int(m.group(1)) < len(arguments) else m.group(0)
            ),
            text,
        )
    return text


def _location(run: _Run, result: dict[str, Any]) -> tuple[str, str]:
    """("path:line", snippet) of the result's first location."""
    for location in result.get("locations") or []:
        if not isinstance(location, dict):
            continue
        physical = location.get("physicalLocation") or {}
        artifact = physical.get("artifactLocation") or {}
        uri = str(artifact.get("uri") or "")
        index = artifact.get("index")
        if not uri and isinstance(index, int):
            artifacts = run.parts.get("artifacts") or []
            if 0 <= index < len(artifacts) and isinstance(artifacts[index], dict):
                uri = str((artifacts[index].get("location") or {}).get("uri") or "")
        if uri.startswith("file://"):
            uri = uri[len("file://") :]
            if re.match(r"^/[A-Za-z]:/", uri):
                uri = uri[1:]
        region = physical.get("region") or {}
        line = region.get("startLine")
        snippet = _text(region.get("snippet")) or _text(
            (physical.get("contextRegion") or {}).get("snippet")
        )
        if uri:
            return (f"{uri}:{line}" if isinstance(line, int) else uri), snippet
        logical = location.get("logicalLocations") or []
        if logical and isinstance(logical[0], dict):
            return str(
                logical[0].get("fullyQualifiedName") or logical[0].get("name") or ""
            ), snippet
    return "", ""


def _finding(run: _Run, result: Any) -> ParsedFinding | None:
    if not isinstance(result, dict):
        raise ParseError("A SARIF result is not a JSON object.")
    if result.get("kind") in ("pass", "notApplicable") or _suppressed(result):
        return None
    rule_id = result.get("ruleId") or (result.get("rule") or {}).get("id") or ""
    rule: dict[str, Any] = run.rules.get(rule_id, {}) if rule_id else {}
    index = result.get("ruleIndex", (result.get("rule") or {}).get("index"))
    if not rule and isinstance(index, int) and 0 <= index < len(run.rule_list):
        rule = run.rule_list[index]
        rule_id = rule_id or str(rule.get("id") or "")
    rule_id = str(rule_id)
    properties = rule.get("properties") or {}
    result_properties = result.get("properties") or {}
    tags = [str(t) for t in (properties.get("tags") or []) if isinstance(t, str)]
    tags += [str(t) for t in (result_properties.get("tags") or []) if isinstance(t, str)]
    cwe_sources: list[str | int | None] = [t for t in tags if "cwe" in t.lower()]
    for relationship in rule.get("relationships") or []:
        target = (relationship or {}).get("target") or {}
        if str((target.get("toolComponent") or {}).get("name", "")).upper() == "CWE":
            cwe_sources.append(f"CWE-{target.get('id', '')}")
    for taxon in result.get("taxa") or []:
        if str(((taxon or {}).get("toolComponent") or {}).get("name", "")).upper() == "CWE":
            cwe_sources.append(f"CWE-{taxon.get('id', '')}")
    cwe_property = properties.get("cwe")
    if isinstance(cwe_property, (str, int)):
        cwe_sources.append(cwe_property)
    level = (
        result.get("level") or ((rule.get("defaultConfiguration") or {}).get("level")) or "warning"
    )
    score = to_float(properties.get("security-severity"))
    severity: Severity = severity_from_score(score) or _LEVEL.get(str(level), "medium")
    if result.get("kind") == "informational":
        severity = "info"
    message = clean(_message(result, rule))
    title = (
        _headline(_text(rule.get("shortDescription")))
        or _headline(str(rule.get("name") or ""))
        or _headline(message)
        or rule_id
        or "SARIF result"
    )
    full = clean(_text(rule.get("fullDescription")))
    description = "\n\n".join(part for part in (message, full if full != message else "") if part)
    location, snippet = _location(run, result)
    help_uri = str(rule.get("helpUri") or "")
    return ParsedFinding(
        tool=TOOL,
        rule_id=rule_id or title,
        title=title,
        severity=severity,
        asset=Asset(host="", url=run.repository),
        location=clean(location, 2048),
        cves=cves_in(rule_id, str(rule.get("name") or "")),
        cwes=cwes_in(*cwe_sources),
        description=description,
        solution=clean(_text(rule.get("help"))),
        references=(help_uri,) if help_uri.startswith(("http://", "https://")) else (),
        evidence=evidence(snippet),
        observed_at=run.observed,
    )
