"""Calendar invites: they parse back as one all-day event on the due date that Outlook can update."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar

from inboxbot.adapters.invites import invite

NOW = datetime(2026, 3, 25, 10, 15, tzinfo=ZoneInfo("Europe/London"))
DUE = date(2026, 3, 30)
UID = "task-T7QK2M@inboxbot.northmere.gov.uk"


def make(method: Literal["REQUEST", "CANCEL"] = "REQUEST", **changes: Any) -> str:
    fields: dict[str, Any] = {
        "uid": UID,
        "sequence": 2,
        "summary": "Due: Information request (case 25 004 217)",
        "description": "Housing Repairs: please send the repair history.\nReply with done.",
        "due": DUE,
        "organiser": "ombudsman@northmere.gov.uk",
        "attendees": ["repairs@northmere.gov.uk", "mailto:head.repairs@northmere.gov.uk"],
        "now": NOW,
        "method": method,
    }
    fields.update(changes)
    return invite(**fields)


def event_of(text: str) -> Any:
    calendar = Calendar.from_ical(text)
    events = calendar.walk("VEVENT")
    assert len(events) == 1
    return events[0]


def test_calendar_header() -> None:
    calendar = Calendar.from_ical(make())
    assert str(calendar["PRODID"]) == "-//inboxbot//EN"
    assert str(calendar["VERSION"]) == "2.0"
    assert str(calendar["METHOD"]) == "REQUEST"


def test_one_all_day_event_on_the_due_date() -> None:
    text = make()
    assert "DTSTART;VALUE=DATE:20260330" in text
    assert "DTEND;VALUE=DATE:20260331" in text
    event = event_of(text)
    start, end = event.decoded("DTSTART"), event.decoded("DTEND")
    assert type(start) is date
    assert start == DUE
    assert end == DUE + timedelta(days=1)
    assert str(event["UID"]) == UID
    assert int(event["SEQUENCE"]) == 2
    assert str(event["SUMMARY"]) == "Due: Information request (case 25 004 217)"
    assert event.decoded("DESCRIPTION").decode() == (
        "Housing Repairs: please send the repair history.\nReply with done."
    )
    assert str(event["STATUS"]) == "CONFIRMED"
    assert str(event["TRANSP"]) == "TRANSPARENT"


def test_dtstamp_is_the_clock_in_utc() -> None:
    text = make(now=datetime(2026, 3, 30, 10, 15, tzinfo=ZoneInfo("Europe/London")))  # BST
    assert "DTSTAMP:20260330T091500Z" in text
    stamp = event_of(text).decoded("DTSTAMP")
    assert stamp.tzinfo is not None
    assert stamp == datetime(2026, 3, 30, 9, 15, tzinfo=UTC)
    assert stamp.utcoffset() == timedelta(0)


def test_no_naive_datetimes_anywhere() -> None:
    calendar = Calendar.from_ical(make())
    for component in calendar.walk():
        for name in component:
            value = component.decoded(name)
            if isinstance(value, datetime):
                assert value.tzinfo is not None, name


def test_organiser_and_attendees_are_mailto_and_ask_for_no_reply() -> None:
    event = event_of(make())
    assert str(event["ORGANIZER"]) == "mailto:ombudsman@northmere.gov.uk"
    attendees = event["ATTENDEE"]
    assert [str(a) for a in attendees] == [
        "mailto:repairs@northmere.gov.uk",
        "mailto:head.repairs@northmere.gov.uk",
    ]
    assert all(a.params["RSVP"] == "FALSE" for a in attendees)


def test_a_single_attendee_is_still_an_attendee() -> None:
    event = event_of(make(attendees=["repairs@northmere.gov.uk"]))
    assert str(event["ATTENDEE"]) == "mailto:repairs@northmere.gov.uk"
    assert event["ATTENDEE"].params["RSVP"] == "FALSE"


def test_a_reminder_the_day_before() -> None:
    alarms = event_of(make()).walk("VALARM")
    assert len(alarms) == 1
    assert str(alarms[0]["ACTION"]) == "DISPLAY"
    assert alarms[0].decoded("TRIGGER") == timedelta(days=-1)
    assert str(alarms[0]["DESCRIPTION"])


def test_outlook_treats_it_as_free_all_day() -> None:
    event = event_of(make())
    assert str(event["X-MICROSOFT-CDO-ALLDAYEVENT"]) == "TRUE"
    assert str(event["X-MICROSOFT-CDO-BUSYSTATUS"]) == "FREE"


def test_a_cancellation_keeps_the_uid_and_says_cancelled() -> None:
    text = make("CANCEL", sequence=3)
    calendar = Calendar.from_ical(text)
    assert str(calendar["METHOD"]) == "CANCEL"
    event = event_of(text)
    assert str(event["UID"]) == UID
    assert int(event["SEQUENCE"]) == 3
    assert str(event["STATUS"]) == "CANCELLED"
    assert event.decoded("DTSTART") == DUE
    assert event.walk("VALARM") == []


def test_the_same_task_gives_the_same_invite() -> None:
    assert make() == make()
    moved = make(due=date(2026, 4, 2), sequence=3)
    assert str(event_of(moved)["UID"]) == UID
    assert event_of(moved).decoded("DTSTART") == date(2026, 4, 2)


def test_lines_end_in_crlf() -> None:
    text = make()
    assert text.endswith("END:VCALENDAR\r\n")
    assert "\n" not in text.replace("\r\n", "")


def test_a_utc_clock_is_fine_too() -> None:
    now = datetime(2026, 3, 25, 9, 15, tzinfo=UTC)
    assert "DTSTAMP:20260325T091500Z" in make(now=now)


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"now": datetime(2026, 3, 25, 9, 15)}, ValueError),  # noqa: DTZ001
        ({"due": datetime(2026, 3, 30, 9, 0, tzinfo=UTC)}, TypeError),
        ({"attendees": []}, ValueError),
        ({"attendees": ["not an address"]}, ValueError),
        ({"organiser": ""}, ValueError),
        ({"uid": " "}, ValueError),
        ({"sequence": -1}, ValueError),
        ({"method": "PUBLISH"}, ValueError),
    ],
)
def test_bad_arguments_are_refused(changes: dict[str, Any], error: type[Exception]) -> None:
    with pytest.raises(error):
        make(**changes)
