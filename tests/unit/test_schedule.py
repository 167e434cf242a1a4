"""Reminders, invites and overdue alerts decided from the clock (pinned in every test)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from inboxbot.domain.calendar import WorkingCalendar
from inboxbot.domain.schedule import Due, SendingRules, TaskClock, in_sending_hours, work_due

CAL = WorkingCalendar.build()
RULES = SendingRules()
LONDON = ZoneInfo("Europe/London")


def at(day: str, hour: int = 10) -> datetime:
    return datetime.fromisoformat(f"{day}T{hour:02d}:00").replace(tzinfo=LONDON)


def task(**changes: object) -> TaskClock:
    values: dict[str, object] = {
        "task_id": 1,
        "open": True,
        "due": date(2026, 4, 14),
        "created_on": date(2026, 3, 26),
        "last_reminder_on": None,
        "invite_due": None,
        "invite_sequence": 0,
    }
    values.update(changes)
    return TaskClock(**values)  # type: ignore[arg-type]


def whats(work: list[Due]) -> list[str]:
    return [w.what for w in work]


def test_reminders_every_three_working_days_across_easter() -> None:
    # Created Thursday 26 March 2026; three working days later is Tuesday 31 March.
    assert whats(work_due(task(), at("2026-03-30"), CAL, RULES)) == []
    assert whats(work_due(task(), at("2026-03-31"), CAL, RULES)) == ["reminder"]
    # Reminded 31 March: Good Friday and Easter Monday do not count, so the next is Tuesday 7 April.
    reminded = task(last_reminder_on=date(2026, 3, 31))
    assert whats(work_due(reminded, at("2026-04-06"), CAL, RULES)) == []
    assert "reminder" in whats(work_due(reminded, at("2026-04-07"), CAL, RULES))


def test_no_reminders_outside_sending_hours_or_on_non_working_days() -> None:
    assert whats(work_due(task(), at("2026-03-31", 7), CAL, RULES)) == []
    assert whats(work_due(task(), at("2026-03-31", 19), CAL, RULES)) == []
    assert whats(work_due(task(), at("2026-04-03"), CAL, RULES)) == []  # Good Friday
    assert not in_sending_hours(datetime(2026, 3, 31, 17, 30, tzinfo=UTC), CAL, RULES)  # 18:30 BST
    assert in_sending_hours(datetime(2026, 1, 6, 17, 30, tzinfo=UTC), CAL, RULES)  # 17:30 GMT


def test_the_invite_goes_three_working_days_before_the_due_date() -> None:
    reminded = task(last_reminder_on=date(2026, 4, 8))
    assert "invite" not in whats(work_due(reminded, at("2026-04-08"), CAL, RULES))
    [invite] = [w for w in work_due(reminded, at("2026-04-09"), CAL, RULES) if w.what == "invite"]
    assert (invite.key, invite.sequence) == ("task1:invite:0", 0)


def test_a_moved_due_date_updates_the_invite_with_a_higher_sequence() -> None:
    moved = task(
        due=date(2026, 4, 21),
        invite_due=date(2026, 4, 14),
        invite_sequence=0,
        last_reminder_on=date(2026, 4, 9),
    )
    [update] = [w for w in work_due(moved, at("2026-04-10"), CAL, RULES) if w.what == "invite_update"]
    assert (update.key, update.sequence) == ("task1:invite:1", 1)


def test_a_done_task_cancels_its_invite_once() -> None:
    done = task(open=False, invite_due=date(2026, 4, 14), invite_sequence=1)
    assert [(w.what, w.sequence) for w in work_due(done, at("2026-04-10"), CAL, RULES)] == [
        ("invite_cancel", 2)
    ]
    assert work_due(task(open=False), at("2026-04-10"), CAL, RULES) == []


def test_overdue_on_the_due_date() -> None:
    assert "overdue" not in whats(work_due(task(), at("2026-04-13"), CAL, RULES))
    assert "overdue" in whats(work_due(task(), at("2026-04-14", 7), CAL, RULES))
