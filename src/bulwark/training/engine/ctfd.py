"""CTFd's own export (pure, no Django): the standings of a competition read from the zip
CTFd's admin panel writes (Admin > Config > Backup > Export; `CTFd/utils/exports`), each
table as `db/<table>.json` = {"count", "results": [rows], "meta"}.

The score is CTFd's: the value of every challenge solved plus every award (awards may be
negative), for users or, in team mode (`config` user_mode = "teams"), for teams; hidden
and banned accounts are left out; ties go to whoever reached the score first (the latest
solve or award), as CTFd's scoreboard orders them.
"""

import io
import json
import zipfile
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

MAX_TABLE_BYTES = 200 * 1024 * 1024


class ExportError(ValueError):
    """The file is not a CTFd export we can read (the message says why)."""


@dataclass
class Account:
    """A user, or a team in team mode, with its place on the scoreboard."""

    ctfd_id: int
    name: str
    email: str
    affiliation: str
    country: str
    score: int = 0
    solves: int = 0
    last_at: datetime | None = None
    members: list[tuple[int, str, str]] = field(default_factory=list)  # (id, name, email)
    rank: int = 0


@dataclass(frozen=True)
class Standings:
    team_mode: bool
    ctf_name: str
    accounts: list[Account]
    challenges: int


def _table(archive: zipfile.ZipFile, name: str, required: bool = True) -> list[dict[str, Any]]:
    path = f"db/{name}.json"
    try:
        info = archive.getinfo(path)
    except KeyError:
        if required:
            raise ExportError(f"{path} is missing: not a CTFd export") from None
        return []
    if info.file_size > MAX_TABLE_BYTES:
        raise ExportError(f"{path} is too large")
    try:
        data = json.loads(archive.read(path))
    except ValueError as exc:
        raise ExportError(f"{path} is not JSON") from exc
    rows = data.get("results") if isinstance(data, dict) else None
    if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
        raise ExportError(f"{path} has no list of results")
    return rows


def _when(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _int(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def read_export(data: bytes) -> Standings:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise ExportError("not a zip file: export the CTF from CTFd's admin panel") from exc
    with archive:
        config = {str(row.get("key")): row.get("value") for row in _table(archive, "config")}
        users = _table(archive, "users")
        teams = _table(archive, "teams", required=False)
        challenges = {_int(c.get("id")): c for c in _table(archive, "challenges")}
        solves = _table(archive, "solves", required=False)
        submissions = {_int(s.get("id")): s for s in _table(archive, "submissions",
                                                            required=False)}  # fmt: skip
        awards = _table(archive, "awards", required=False)
    team_mode = config.get("user_mode") == "teams"
    accounts: dict[int, Account] = {}
    source = teams if team_mode else users
    for row in source:
        if row.get("hidden") or row.get("banned") or row.get("type") == "admin":
            continue
        accounts[_int(row.get("id"))] = Account(
            ctfd_id=_int(row.get("id")), name=str(row.get("name") or ""),
            email=str(row.get("email") or ""), affiliation=str(row.get("affiliation") or ""),
            country=str(row.get("country") or ""),
        )  # fmt: skip
    if team_mode:
        for user in users:
            team = accounts.get(_int(user.get("team_id")))
            if team is not None and not user.get("banned"):
                team.members.append((_int(user.get("id")), str(user.get("name") or ""),
                                     str(user.get("email") or "")))  # fmt: skip
    key = "team_id" if team_mode else "user_id"
    points: dict[int, list[tuple[int, datetime | None]]] = defaultdict(list)
    for solve in solves:
        challenge = challenges.get(_int(solve.get("challenge_id")))
        if challenge is None or challenge.get("state") == "hidden":
            continue
        owner = _int(solve.get(key) or submissions.get(_int(solve.get("id")), {}).get(key))
        when = _when(solve.get("date") or submissions.get(_int(solve.get("id")), {}).get("date"))
        if owner in accounts:
            points[owner].append((_int(challenge.get("value")), when))
            accounts[owner].solves += 1
    for award in awards:
        owner = _int(award.get(key))
        if owner in accounts:
            points[owner].append((_int(award.get("value")), _when(award.get("date"))))
    for owner, rows in points.items():
        account = accounts[owner]
        account.score = sum(value for value, _when_ in rows)
        moments = [when for _value, when in rows if when is not None]
        account.last_at = max(moments) if moments else None
    ordered = sorted(accounts.values(), key=lambda a: (-a.score, _sort_time(a.last_at), a.ctfd_id))
    for rank, account in enumerate(ordered, start=1):
        account.rank = rank
    return Standings(team_mode, str(config.get("ctf_name") or ""), ordered, len(challenges))


def _sort_time(moment: datetime | None) -> float:
    return moment.timestamp() if moment is not None else float("inf")
