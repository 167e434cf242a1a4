"""Building the emails inboxbot sends: templates in, ``EmailMessage`` out.

Pure apart from reading template files. Each template is a pair ``NAME.txt.j2`` and
``NAME.html.j2``; the text template starts with ``Subject: ...`` and a blank line. A council can put
its own versions in a folder of its own; each file found there wins over the bundled one.
Files whose names start with ``_`` are shared layouts and pieces, not templates to send.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from types import TracebackType
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup, escape

from inboxbot.resources import templates_dir

TEXT_SUFFIX = ".txt.j2"
HTML_SUFFIX = ".html.j2"

# Loop protection (DESIGN.md "No loops"): every message carries these and no caller may change them.
LOOP_HEADERS: Mapping[str, str] = {
    "Auto-Submitted": "auto-generated",
    "X-Auto-Response-Suppress": "All",
}
# Set from build_email's arguments; outgoing.headers may not replace them.
_FIXED_HEADERS = frozenset(name.lower() for name in (*LOOP_HEADERS, "From", "To", "Cc", "Subject"))

_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)

# What each message kind is, in the users' words, for the triage email.
KIND_WORDS: Mapping[str, str] = {
    "notification": "a notification of a new complaint",
    "information_request": "a request for more information",
    "draft_decision": "a draft decision for comment",
    "final_decision": "a final decision or determination",
    "public_report": "a public report",
    "chaser_first": "a first chaser",
    "chaser_final": "a final chaser",
    "case_closed": "a case closure",
    "case_update": "an update on a case",
    "portal_message": "a message waiting on the Ombudsman's portal",
    "auto_reply": "an automatic reply",
    "other": "not about a case",
    "unknown": "not sure",
}

# A context with every variable the bundled templates use; ``Templates.check`` renders with it.
_SAMPLE_CASE: Mapping[str, object] = {
    "ombudsman_name": "Local Government and Social Care Ombudsman",
    "ombudsman_ref": "25 004 217",
    "council_ref": "CAS-1234567",
    "service_area": "Housing Repairs",
    "subject": "Delay in repairing a leaking roof",
}
_SAMPLE_TASK: Mapping[str, object] = {
    "token": "T7QK2M",
    "title": "Information request",
    "detail": "Please send the repair history for the property since January 2025\n"
    "and copies of the letters sent to the resident.",
    "due": date(2026, 3, 30),
    "working_days_left": 5,
}
SAMPLE_CONTEXT: Mapping[str, object] = {
    "case": _SAMPLE_CASE,
    "task": _SAMPLE_TASK,
    "message_kind": "unknown",
    "reason": "No rule was sure what this message is.",
    "recipient_name": "Housing Repairs team",
    "council_name": "Northmere Council",
    "shared_mailbox": "ombudsman@northmere.gov.uk",
}

_NO_TASK: Mapping[str, object] = {"token": "", "title": "", "detail": "", "due": None, "working_days_left": 0}


def _check_variants(name: str) -> list[Mapping[str, object]]:
    """The sample context, and the thinner ones ``check`` also tries on template ``name``:
    the values a real case can lack (a recipient's name, a due date, a task, the case itself)."""
    changes: list[Mapping[str, object]] = [{}, {"recipient_name": ""}]
    if name == "triage":
        changes += [
            {"case": None},
            {"case": {**_SAMPLE_CASE, "ombudsman_ref": "", "council_ref": "", "service_area": ""}},
        ]
    if name.startswith("alert_"):
        changes += [{"task": None}, {"task": _NO_TASK}]
    if name in ("task_new", "task_reminder", "task_priority", "task_done_ack"):
        changes.append({"task": {**_SAMPLE_TASK, "due": None}})
    return [{**SAMPLE_CONTEXT, **change} for change in changes]


@dataclass(frozen=True, kw_only=True)
class Outgoing:
    """One email to send: recipients, rendered content, an optional calendar invite."""

    to: tuple[str, ...]
    cc: tuple[str, ...] = ()
    subject: str
    text: str
    html: str | None
    ics: str | None = None  # an iCalendar text to attach (METHOD:REQUEST or CANCEL)
    headers: Mapping[str, str] = field(default_factory=dict, hash=False)  # In-Reply-To etc.


class TemplateError(Exception):
    """A template that cannot be rendered; the message names the file and the problem in one line."""


def day_month_year(value: date) -> str:
    """``30 March 2026`` (not locale-dependent, unlike strftime)."""
    return f"{value.day} {_MONTHS[value.month - 1]} {value.year}"


def long_date(value: date) -> str:
    """``Monday 30 March 2026`` (not locale-dependent, unlike strftime)."""
    _require_date(value)
    return f"{_DAYS[value.weekday()]} {day_month_year(value)}"


def short_date(value: date) -> str:
    """``Mon 30 Mar 2026``, for subject lines."""
    _require_date(value)
    return f"{_DAYS[value.weekday()][:3]} {value.day} {_MONTHS[value.month - 1][:3]} {value.year}"


def days_left(count: int) -> str:
    """``3 working days left``, ``due today``, ``2 working days overdue``."""
    if isinstance(count, bool) or not isinstance(count, int):
        raise TypeError(f"working days left must be a whole number, not {count!r}")
    if count == 0:
        return "due today"
    days = "working day" if abs(count) == 1 else "working days"
    return f"{count} {days} left" if count > 0 else f"{-count} {days} overdue"


def kind_words(kind: object) -> str:
    """A message kind in the users' words."""
    text = str(kind)
    return KIND_WORDS.get(text, text.replace("_", " "))


def paragraphs(text: object) -> Markup:
    """Plain text as escaped HTML paragraphs: blank lines split paragraphs, newlines become <br>."""
    blocks = [block.strip() for block in re.split(r"\n\s*\n", str(text).strip())]
    return Markup("\n").join(
        Markup("<p>{}</p>").format(Markup("<br>\n").join(escape(line) for line in block.splitlines()))
        for block in blocks
        if block
    )


def _require_date(value: object) -> None:
    if not isinstance(value, date):
        raise TypeError(f"expected a date, not {value!r}")


_FILTERS: Mapping[str, Callable[..., Any]] = {
    "long_date": long_date,
    "short_date": short_date,
    "days_left": days_left,
    "kind_words": kind_words,
    "paragraphs": paragraphs,
}


class Templates:
    """The email templates: the bundled ones, each overridden by a file in ``override_dir``."""

    def __init__(self, override_dir: Path | None = None) -> None:
        if override_dir is not None and not override_dir.is_dir():
            raise TemplateError(f"{override_dir}: templates folder not found")
        self.override_dir = override_dir
        self.bundled_dir = templates_dir()
        folders = [self.bundled_dir] if override_dir is None else [override_dir, self.bundled_dir]
        # Sandboxed because a council edits its own templates; the bot's mail should not run code.
        self._env = SandboxedEnvironment(
            loader=jinja2.FileSystemLoader([str(folder) for folder in folders], encoding="utf-8"),
            undefined=jinja2.StrictUndefined,
            autoescape=jinja2.select_autoescape(
                enabled_extensions=("html.j2", "html"), disabled_extensions=("txt.j2", "txt")
            ),
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
        )
        self._env.filters.update(_FILTERS)
        self._folders = folders

    def names(self) -> list[str]:
        """Every template name (``task_new``, ...) found in either folder, in name order."""
        found: set[str] = set()
        for folder in self._folders:
            for path in folder.iterdir():
                for suffix in (TEXT_SUFFIX, HTML_SUFFIX):
                    if path.name.endswith(suffix) and not path.name.startswith("_"):
                        found.add(path.name.removesuffix(suffix))
        return sorted(found)

    def render(self, name: str, context: Mapping[str, object]) -> tuple[str, str, str]:
        """(subject, text, html) for template ``name``; TemplateError says which file is wrong."""
        text_file = name + TEXT_SUFFIX
        rendered = self._render_file(text_file, context)
        subject, text = _split_subject(text_file, rendered)
        html = self._render_file(name + HTML_SUFFIX, context)
        return subject, text, html

    def check(self) -> list[str]:
        """Render every template with sample contexts; the problems found, [] when all is well."""
        problems: list[str] = []
        for name in self.names():
            for context in _check_variants(name):
                try:
                    subject, _text, html = self.render(name, context)
                except TemplateError as exc:
                    problems.append(str(exc))
                    break
                problems.extend(_check_rendered(name, subject, html, context))
        return list(dict.fromkeys(problems))  # the same fault found in several contexts, once

    def _render_file(self, filename: str, context: Mapping[str, object]) -> str:
        try:
            return self._env.get_template(filename).render(context)
        except jinja2.TemplateNotFound as exc:
            raise TemplateError(f"{exc.name or filename}: template not found in {self._where()}") from None
        except jinja2.TemplateSyntaxError as exc:
            where = exc.filename or exc.name or filename
            raise TemplateError(
                _one_line(f"{where}: line {exc.lineno}: syntax error: {exc.message}")
            ) from None
        except jinja2.UndefinedError as exc:
            raise TemplateError(_one_line(f"{_failing_line(filename)}: missing variable: {exc}")) from None
        except (jinja2.TemplateError, TypeError, ValueError, AttributeError, KeyError) as exc:
            raise TemplateError(_one_line(f"{_failing_line(filename)}: {exc}")) from None

    def _where(self) -> str:
        return " or ".join(str(folder) for folder in self._folders)


def _split_subject(filename: str, rendered: str) -> tuple[str, str]:
    """The ``Subject:`` line and the body after the blank line that follows it, tidied.

    The subject runs to the first blank line, so a value with a newline in it (a task title
    copied from a letter, say) folds into the subject instead of spilling into the body.
    """
    lines = rendered.lstrip("\n").split("\n")
    if not lines[0].lower().startswith("subject:"):
        raise TemplateError(f"{filename}: the first line must be 'Subject: ...'")
    end = next((i for i, line in enumerate(lines) if not line.strip()), len(lines))
    subject = " ".join(" ".join(lines[:end])[len("subject:") :].split())
    if not subject:
        raise TemplateError(f"{filename}: the subject line is empty")
    body = "\n".join(line.rstrip() for line in lines[end:]).strip("\n")
    body = re.sub(r"\n{3,}", "\n\n", body)
    return subject, body + "\n"


def _failing_line(filename: str) -> str:
    """``path/of/template.j2: line N`` for the template frame an exception is passing through.

    Jinja rewrites tracebacks so a template's frames carry the template's file and line; the
    innermost one is where the problem is (a base layout or an included piece, perhaps).
    """
    traceback: TracebackType | None = sys.exc_info()[2]
    where = filename
    while traceback is not None:
        code_file = traceback.tb_frame.f_code.co_filename
        if code_file.endswith(".j2"):
            where = f"{code_file}: line {traceback.tb_lineno}"
        traceback = traceback.tb_next
    return where


def _one_line(message: str) -> str:
    return " ".join(message.split())


def _check_rendered(name: str, subject: str, html: str, context: Mapping[str, object]) -> list[str]:
    """Problems a rendered template has although it rendered: replies that would not thread."""
    problems = []
    case = context.get("case")
    task = context.get("task")
    reference = (case.get("ombudsman_ref") or case.get("council_ref")) if isinstance(case, Mapping) else None
    if reference:
        tag = f"[Case {reference}]"
        if tag not in subject:
            problems.append(f"{name}{TEXT_SUFFIX}: the subject does not carry {tag}; replies will not thread")
    if name.startswith("task_") and isinstance(task, Mapping):
        tag = f"[Task {task['token']}]"
        if tag not in subject:
            problems.append(f"{name}{TEXT_SUFFIX}: the subject does not carry {tag}; replies will not thread")
    if not html.strip():
        problems.append(f"{name}{HTML_SUFFIX}: renders as nothing")
    return problems


def build_email(
    outgoing: Outgoing, *, from_address: str, reply_to: str, message_id_domain: str, now: datetime
) -> EmailMessage:
    """The MIME message for ``outgoing``.

    Text and HTML as multipart/alternative. An invite is added the way Outlook expects: a
    ``text/calendar; method=...`` alternative part and an ``invite.ics`` attachment. Every
    message says it is automatic (Auto-Submitted, X-Auto-Response-Suppress) so that
    out-of-office replies do not come back; ``Precedence: bulk`` is not used because Exchange
    drops mail that carries it.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be a timezone-aware datetime")
    if not outgoing.to:
        raise ValueError("an email needs at least one recipient")
    fixed = [name for name in outgoing.headers if name.lower() in _FIXED_HEADERS]
    if fixed:
        raise ValueError(f"these headers are set by build_email and cannot be replaced: {', '.join(fixed)}")

    message = EmailMessage()
    message["From"] = from_address
    message["To"] = ", ".join(outgoing.to)
    if outgoing.cc:
        message["Cc"] = ", ".join(outgoing.cc)
    message["Subject"] = outgoing.subject
    message["Date"] = format_datetime(now)
    message["Message-ID"] = make_msgid(domain=message_id_domain)
    message["Reply-To"] = reply_to
    for name, value in LOOP_HEADERS.items():
        message[name] = value
    for name, value in outgoing.headers.items():
        # A caller may give its own Message-ID (a stable one lets a resend be spotted), Date, etc.
        del message[name]
        message[name] = value

    message.set_content(outgoing.text)
    if outgoing.html is not None:
        message.add_alternative(outgoing.html, subtype="html")
    if outgoing.ics is not None:
        method = _ics_method(outgoing.ics)
        # Outlook wants the invite both ways: as an alternative (Content-Type: text/calendar;
        # method=...; charset=UTF-8) and as an attachment; other clients use one or the other.
        message.add_alternative(outgoing.ics, subtype="calendar", charset="UTF-8", params={"method": method})
        message.add_attachment(
            outgoing.ics.encode("utf-8"),
            maintype="application",
            subtype="ics",
            filename="invite.ics",
            params={"name": "invite.ics"},
        )
    return message


def _ics_method(ics: str) -> str:
    match = re.search(r"^METHOD:([A-Z-]+)\s*$", ics, flags=re.MULTILINE)
    if match is None:
        raise ValueError("the calendar invite has no METHOD line")
    return match.group(1)
