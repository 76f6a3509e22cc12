"""The exam engine's table of cases: draws reproducible per seed, answers checked, time
enforced, scores and retake rules right."""

from datetime import UTC, datetime, timedelta

import pytest

from bulwark.training.engine.exam import (
    AnswerError,
    Item,
    Kind,
    PastAttempt,
    check_answer,
    draw,
    item_statistics,
    may_retake,
    on_time,
    score,
)

SINGLE = Item(1, Kind.SINGLE, ("a", "b", "c", "d"), frozenset({"b"}))
MULTI = Item(2, Kind.MULTIPLE, ("a", "b", "c"), frozenset({"a", "c"}))
TF = Item(3, Kind.TRUE_FALSE, ("true", "false"), frozenset({"false"}))
BANK = [Item(i, Kind.SINGLE, ("a", "b", "c"), frozenset({"a"})) for i in range(10, 40)]
NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


def test_a_draw_is_the_same_for_the_same_seed_and_differs_between_seeds() -> None:
    first = draw(BANK, 10, seed=42)
    assert draw(list(reversed(BANK)), 10, seed=42) == first  # bank order does not matter
    assert len(first) == 10 and len({d.item_id for d in first}) == 10
    others = [draw(BANK, 10, seed=s) for s in range(1, 6)]
    assert all(o != first for o in others)
    assert any(d.option_order != ("a", "b", "c") for d in first)  # options shuffled


def test_a_small_bank_gives_every_question_and_true_false_keeps_its_order() -> None:
    drawn = draw([SINGLE, TF], 5, seed=7)
    assert {d.item_id for d in drawn} == {1, 3}
    assert next(d for d in drawn if d.item_id == 3).option_order == ("true", "false")


@pytest.mark.parametrize(
    ("item", "chosen", "error"),
    [
        (SINGLE, ["b"], None),
        (SINGLE, [], None),
        (SINGLE, ["a", "b"], "one answer"),
        (SINGLE, ["z"], "not an option"),
        (MULTI, ["a", "c"], None),
        (TF, ["maybe"], "not an option"),
        (TF, ["true", "false"], "one answer"),
    ],
)
def test_answers_are_checked(item: Item, chosen: list[str], error: str | None) -> None:
    if error is None:
        assert check_answer(item, chosen) == frozenset(chosen)
    else:
        with pytest.raises(AnswerError, match=error):
            check_answer(item, chosen)


@pytest.mark.parametrize(
    ("answers", "right", "percent", "passed"),
    [
        ({1: {"b"}, 2: {"a", "c"}, 3: {"false"}}, 3, 100.0, True),
        ({1: {"b"}, 2: {"a"}, 3: {"false"}}, 2, 66.67, False),  # partly right multiple: wrong
        ({1: {"b"}, 2: {"a", "b", "c"}, 3: {"false"}}, 2, 66.67, False),  # a wrong extra option
        ({1: {"b"}, 3: {"false"}}, 2, 66.67, False),  # unanswered counts as wrong
        ({}, 0, 0.0, False),
        ({1: {"a"}, 2: {"a", "c"}, 3: {"true"}}, 1, 33.33, False),
    ],
)
def test_scores(answers: dict[int, set[str]], right: int, percent: float, passed: bool) -> None:
    items = {1: SINGLE, 2: MULTI, 3: TF}
    result = score(items, [1, 2, 3], {k: frozenset(v) for k, v in answers.items()}, 70)
    assert (result.right, result.total, result.percent, result.passed) == (
        right, 3, percent, passed,
    )  # fmt: skip


def test_the_pass_mark_is_reached_at_equality() -> None:
    items = {1: SINGLE, 3: TF}
    assert score(items, [1, 3], {1: frozenset({"b"})}, 50).passed
    assert not score(items, [1, 3], {1: frozenset({"b"})}, 51).passed


@pytest.mark.parametrize(
    ("offset", "grace", "accepted"),
    [(-60, 0, True), (0, 0, True), (1, 0, False), (10, 15, True), (16, 15, False)],
)
def test_time_is_the_servers(offset: int, grace: int, accepted: bool) -> None:
    assert on_time(NOW, NOW + timedelta(seconds=offset), timedelta(seconds=grace)) is accepted
    assert on_time(None, NOW + timedelta(days=999), timedelta(0))


@pytest.mark.parametrize(
    ("past", "max_attempts", "wait_h", "reason"),
    [
        ([], 2, 0, None),
        ([(-5, True, False)], 2, 0, None),
        ([(-5, True, False), (-3, True, False)], 2, 0, "no attempts left"),
        ([(-5, True, False), (-3, True, False)], 0, 0, None),  # 0: no limit
        ([(-5, True, True)], 3, 0, "already passed"),
        ([(-1, False, False)], 3, 0, "an attempt is in progress"),
        ([(-1, True, False)], 3, 24, "too early for a retake"),
        ([(-25, True, False)], 3, 24, None),
    ],
)
def test_retake_rules(
    past: list[tuple[int, bool, bool]], max_attempts: int, wait_h: int, reason: str | None
) -> None:
    attempts = [PastAttempt(NOW + timedelta(hours=h), f, p) for h, f, p in past]
    assert may_retake(attempts, max_attempts, timedelta(hours=wait_h), NOW) == reason


def test_bad_questions_are_named() -> None:
    assert Item(1, Kind.SINGLE, ("a", "b"), frozenset({"a", "b"})).problems() == [
        "exactly one option is right"
    ]
    assert (
        "a true/false question has the options 'true' and 'false'"
        in Item(1, Kind.TRUE_FALSE, ("yes", "no"), frozenset({"yes"})).problems()
    )
    assert SINGLE.problems() == [] and MULTI.problems() == [] and TF.problems() == []


def test_item_statistics_show_facility_options_and_discrimination() -> None:
    items = {1: SINGLE, 3: TF}
    strong = ([1, 3], {1: frozenset({"b"}), 3: frozenset({"false"})})
    weak = ([1, 3], {1: frozenset({"a"}), 3: frozenset({"false"})})
    stats = item_statistics(items, [strong, strong, strong, weak, weak, weak])
    assert stats[1].drawn == 6 and stats[1].right == 3 and stats[1].facility == 0.5
    assert stats[1].option_counts == {"a": 3, "b": 3, "c": 0, "d": 0}
    assert stats[1].discrimination == 1.0  # separates the strong from the weak
    assert stats[3].discrimination == 0.0  # everyone gets it right
