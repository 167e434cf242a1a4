"""Calendar invites for a task's due date, in the form Outlook accepts.

One all-day event on the due date, marked free so it does not block the diary, with a
reminder the day before. The UID stays the same for the life of the task and the caller bumps
SEQUENCE when the due date moves, so Outlook updates the event instead of adding a second one;
METHOD:CANCEL with the same UID removes it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from icalendar import vCalAddress

PRODID = "-//inboxbot//EN"


def invite(
    *,
    uid: str,
    sequence: int,
    summary: str,
    description: str,
    due: date,
    organiser: str,
    attendees: Sequence[str],
    now: datetime,
    method: Literal["REQUEST", "CANCEL"] = "REQUEST",
) -> str:
    """The iCalendar text (CRLF line endings) of an invite to, or cancellation of, a due date."""
    # Imported when an invite is made, not with the command line: a tenth of a second with httpx.
    from icalendar import Alarm, Calendar, Event

    if isinstance(due, datetime) or not isinstance(due, date):
        raise TypeError(f"due must be a date, not {due!r}")
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be a timezone-aware datetime")
    if method not in ("REQUEST", "CANCEL"):
        raise ValueError(f"method must be REQUEST or CANCEL, not {method!r}")
    if not uid.strip():
        raise ValueError("an invite needs a UID")
    if sequence < 0:
        raise ValueError(f"sequence cannot be negative: {sequence}")
    if not attendees:
        raise ValueError("an invite needs at least one attendee")

    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("method", method)

    event = Event()
    event.add("uid", uid)
    event.add("sequence", sequence)
    event.add("dtstamp", now.astimezone(UTC))
    event.add("dtstart", due)
    event.add("dtend", due + timedelta(days=1))
    event.add("summary", summary)
    event.add("description", description)
    event.add("organizer", _address(organiser))
    for attendee in attendees:
        event.add(
            "attendee",
            _address(attendee, ROLE="REQ-PARTICIPANT", PARTSTAT="NEEDS-ACTION", RSVP="FALSE"),
        )
    event.add("status", "CANCELLED" if method == "CANCEL" else "CONFIRMED")
    event.add("transp", "TRANSPARENT")
    # Outlook reads its own properties for all-day and free/busy before the standard ones.
    event.add("x-microsoft-cdo-alldayevent", "TRUE")
    event.add("x-microsoft-cdo-busystatus", "FREE")
    if method == "REQUEST":
        alarm = Alarm()
        alarm.add("action", "DISPLAY")
        alarm.add("description", summary)
        alarm.add("trigger", timedelta(days=-1))
        event.add_component(alarm)
    calendar.add_component(event)
    return str(calendar.to_ical().decode("utf-8"))


def _address(address: str, **params: str) -> vCalAddress:
    """A ``mailto:`` calendar address; an address already given as ``mailto:...`` is kept as it is."""
    bare = address.strip().removeprefix("mailto:").removeprefix("MAILTO:")
    if not bare or "@" not in bare:
        raise ValueError(f"not an email address: {address!r}")
    from icalendar import vCalAddress

    value = vCalAddress(f"mailto:{bare}")
    for name, param in params.items():
        value.params[name] = param
    return value
