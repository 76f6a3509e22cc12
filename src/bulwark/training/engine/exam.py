"""The exam engine (pure, no Django): which questions an attempt draws and in which order,
whether an answer is well-formed, whether it is still on time, the score, the retake rule
and the item statistics an author reads.

An attempt's draw is a function of its seed only, so the same attempt shows the same
questions in the same order with the same option order after a reload, on another
device, or when the result is checked later; two attempts (two seeds) differ.
"""

import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum


class Kind(StrEnum):
    SINGLE = "single"  # one right option among several
    MULTIPLE = "multiple"  # every right option and no wrong one
    TRUE_FALSE = "true_false"  # the options "true" and "false", one right


@dataclass(frozen=True)
class Item:
    """A question of the bank as the engine needs it: its id, kind and option ids, with
    the set of right ones."""

    id: int
    kind: Kind
    options: tuple[str, ...]
    correct: frozenset[str]

    def problems(self) -> list[str]:
        """What makes the question unusable (an author sees these before publishing)."""
        found = []
        if len(set(self.options)) != len(self.options):
            found.append("two options share an id")
        if not self.correct <= set(self.options):
            found.append("a right answer is not among the options")
        if self.kind == Kind.TRUE_FALSE and set(self.options) != {"true", "false"}:
            found.append("a true/false question has the options 'true' and 'false'")
        if self.kind in (Kind.SINGLE, Kind.TRUE_FALSE) and len(self.correct) != 1:
            found.append("exactly one option is right")
        if self.kind == Kind.MULTIPLE and not self.correct:
            found.append("at least one option is right")
        if len(self.options) < 2:
            found.append("at least two options")
        return found


@dataclass(frozen=True)
class Drawn:
    """One question of an attempt, with the order its options are shown in."""

    item_id: int
    option_order: tuple[str, ...]


def draw(items: Sequence[Item], count: int, seed: int) -> list[Drawn]:
    """`count` questions of the bank (all of them when it holds fewer), in a random order,
    each with its options shuffled, except true/false (always true, then false)."""
    rng = random.Random(seed)  # noqa: S311  (a reproducible draw, not a secret)
    pool = sorted(items, key=lambda item: item.id)
    chosen = rng.sample(pool, min(count, len(pool)))
    drawn = []
    for item in chosen:
        order = list(item.options)
        if item.kind != Kind.TRUE_FALSE:
            rng.shuffle(order)
        drawn.append(Drawn(item.id, tuple(order)))
    return drawn


class AnswerError(ValueError):
    """An answer the question cannot take (the message says why)."""


def check_answer(item: Item, chosen: Iterable[str]) -> frozenset[str]:
    """The answer as a set of option ids; empty clears the answer. Raises AnswerError for
    an unknown option or more than one option on a one-answer question."""
    picked = frozenset(chosen)
    unknown = picked - set(item.options)
    if unknown:
        raise AnswerError(f"not an option of this question: {', '.join(sorted(unknown))}")
    if item.kind != Kind.MULTIPLE and len(picked) > 1:
        raise AnswerError("this question takes one answer")
    return picked


def is_right(item: Item, chosen: frozenset[str]) -> bool:
    """All or nothing: a multiple-choice answer is right when it is exactly the right set."""
    return chosen == item.correct


def on_time(deadline: datetime | None, now: datetime, grace: timedelta) -> bool:
    """Is a save at `now` accepted? The server's clock decides; `grace` covers the time a
    save sent just before the deadline spends on the way."""
    return deadline is None or now <= deadline + grace


@dataclass(frozen=True)
class Score:
    right: int
    total: int
    percent: float
    passed: bool


def score(
    items: Mapping[int, Item],
    drawn: Sequence[int],
    answers: Mapping[int, frozenset[str]],
    pass_mark: float,
) -> Score:
    """The score of an attempt over the questions it drew: a question left unanswered is
    wrong; `pass_mark` is a percentage, reached when the score is at least that."""
    total = len(drawn)
    right = sum(
        1
        for item_id in drawn
        if item_id in items and is_right(items[item_id], answers.get(item_id, frozenset()))
    )
    percent = round(100.0 * right / total, 2) if total else 0.0
    return Score(right, total, percent, total > 0 and percent >= pass_mark)


@dataclass(frozen=True)
class PastAttempt:
    started_at: datetime
    finished: bool
    passed: bool


def may_retake(
    past: Sequence[PastAttempt], max_attempts: int, wait: timedelta, now: datetime
) -> str | None:
    """None when a new attempt may start, else the reason why not. `max_attempts` 0 means
    no limit; `wait` is the time between the start of one attempt and the next."""
    if any(attempt.passed for attempt in past):
        return "already passed"
    if any(not attempt.finished for attempt in past):
        return "an attempt is in progress"
    if max_attempts and len(past) >= max_attempts:
        return "no attempts left"
    if past and wait:
        latest = max(attempt.started_at for attempt in past)
        if now < latest + wait:
            return "too early for a retake"
    return None


@dataclass
class ItemStats:
    """How one question fared: how often it was drawn, answered and answered right, each
    option's share, and the discrimination (the share right among the best third of
    attempts minus among the worst third: near 0 or below, the question does not separate
    those who know from those who do not)."""

    item_id: int
    drawn: int = 0
    answered: int = 0
    right: int = 0
    option_counts: dict[str, int] = field(default_factory=dict)
    discrimination: float | None = None

    @property
    def facility(self) -> float | None:
        return round(self.right / self.drawn, 3) if self.drawn else None


def item_statistics(
    items: Mapping[int, Item],
    attempts: Sequence[tuple[Sequence[int], Mapping[int, frozenset[str]]]],
) -> dict[int, ItemStats]:
    """Statistics per question over finished attempts, each given as (drawn ids, answers)."""
    stats = {item_id: ItemStats(item_id, option_counts=dict.fromkeys(item.options, 0))
             for item_id, item in items.items()}  # fmt: skip
    scored: list[tuple[float, Sequence[int], Mapping[int, frozenset[str]]]] = []
    for drawn, answers in attempts:
        right = 0
        for item_id in drawn:
            item = items.get(item_id)
            if item is None:
                continue
            entry = stats[item_id]
            entry.drawn += 1
            chosen = answers.get(item_id, frozenset())
            if chosen:
                entry.answered += 1
            for option in chosen:
                if option in entry.option_counts:
                    entry.option_counts[option] += 1
            if is_right(item, chosen):
                entry.right += 1
                right += 1
        scored.append((right / len(drawn) if drawn else 0.0, drawn, answers))
    third = len(scored) // 3
    if third:
        scored.sort(key=lambda row: row[0])
        low, high = scored[:third], scored[-third:]
        for item_id, item in items.items():
            rates = []
            for group in (high, low):
                seen = [a for _s, d, a in group if item_id in d]
                rates.append(
                    sum(is_right(item, a.get(item_id, frozenset())) for a in seen) / len(seen)
                    if seen
                    else None
                )
            if rates[0] is not None and rates[1] is not None:
                stats[item_id].discrimination = round(rates[0] - rates[1], 3)
    return stats
