"""Outgoing emails: the templates render, say the right things, and build into mail that threads."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Mapping
from datetime import UTC, date, datetime
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from inboxbot.adapters.invites import invite
from inboxbot.adapters.messages import (
    SAMPLE_CONTEXT,
    Outgoing,
    TemplateError,
    Templates,
    build_email,
    days_left,
    long_date,
    short_date,
)
from inboxbot.resources import templates_dir

NOW = datetime(2026, 3, 23, 9, 30, tzinfo=ZoneInfo("Europe/London"))
EXPECTED = {
    "task_new",
    "task_reminder",
    "task_priority",
    "task_overdue",
    "task_done_ack",
    "alert_chaser_first",
    "alert_chaser_final",
    "alert_public_report",
    "triage",
    "acknowledgement",
    "case_closed_notice",
}
# Templates that ask a service area to do something and so must explain how to say it is done.
ASKS_FOR_DONE = ("task_new", "task_reminder", "task_priority", "task_overdue")


def context(**changes: object) -> dict[str, object]:
    return {**SAMPLE_CONTEXT, **changes}


def with_case(**changes: object) -> dict[str, object]:
    case = SAMPLE_CONTEXT["case"]
    assert isinstance(case, Mapping)
    return context(case={**case, **changes})


def with_task(**changes: object) -> dict[str, object]:
    task = SAMPLE_CONTEXT["task"]
    assert isinstance(task, Mapping)
    return context(task={**task, **changes})


@pytest.fixture(scope="module")
def templates() -> Templates:
    return Templates()


def test_every_template_is_bundled_as_a_pair() -> None:
    folder = templates_dir()
    assert set(Templates().names()) == EXPECTED
    for name in EXPECTED:
        assert (folder / f"{name}.txt.j2").is_file()
        assert (folder / f"{name}.html.j2").is_file()


def test_bundled_templates_pass_the_check(templates: Templates) -> None:
    assert templates.check() == []


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_template_renders_with_the_sample_context(templates: Templates, name: str) -> None:
    subject, text, html = templates.render(name, SAMPLE_CONTEXT)
    assert subject.startswith("[Case 25 004 217]")
    assert "\n" not in subject
    assert not text.startswith("Subject:")
    assert text.startswith("Dear Housing Repairs team,")
    assert "{{" not in text
    assert "{{" not in html
    assert html.lstrip().startswith("<!DOCTYPE html>")
    assert "Northmere Council" in text
    assert "ombudsman@northmere.gov.uk" in text


@pytest.mark.parametrize("name", sorted(n for n in EXPECTED if n.startswith("task_")))
def test_task_subjects_carry_the_case_and_task_tokens(templates: Templates, name: str) -> None:
    subject, _text, _html = templates.render(name, SAMPLE_CONTEXT)
    assert subject.startswith("[Case 25 004 217] [Task T7QK2M] ")


def test_new_task_subject_and_body(templates: Templates) -> None:
    subject, text, html = templates.render("task_new", SAMPLE_CONTEXT)
    assert subject == "[Case 25 004 217] [Task T7QK2M] Information request: reply by Mon 30 Mar 2026"
    for words in (
        "Local Government and Social Care Ombudsman",
        "CAS-1234567",
        "Housing Repairs",
        "Delay in repairing a leaking roof",
        "Monday 30 March 2026",
        "5 working days left",
        "repair history for the property",
    ):
        assert words in text
        assert words in html


@pytest.mark.parametrize("name", ASKS_FOR_DONE)
def test_task_emails_say_how_to_mark_the_task_done(templates: Templates, name: str) -> None:
    _subject, text, html = templates.render(name, SAMPLE_CONTEXT)
    assert "reply to this email with done on the first line" in text
    assert "reply to this email with done on the first line" in html
    assert "Monday 30 March 2026" in text


def test_overdue_task_says_how_late_it_is(templates: Templates) -> None:
    subject, text, _html = templates.render("task_overdue", with_task(working_days_left=0))
    assert "Due today: Information request for Housing Repairs" in subject
    subject, text, _html = templates.render("task_overdue", with_task(working_days_left=-2))
    assert "2 working days overdue" in subject
    assert "2 working days overdue" in text


def test_final_chaser_names_the_sanction_each_ombudsman_can_use(templates: Templates) -> None:
    _s, lgsco, _h = templates.render("alert_chaser_final", SAMPLE_CONTEXT)
    assert "witness summons" in lgsco
    hos_context = with_case(ombudsman_name="Housing Ombudsman Service", ombudsman_ref="202412345")
    subject, hos, _h = templates.render("alert_chaser_final", hos_context)
    assert "Complaint Handling Failure Order (CHFO)" in hos
    assert subject.startswith("[Case 202412345]")


def test_acknowledgement_to_the_ombudsman(templates: Templates) -> None:
    subject, text, _html = templates.render("acknowledgement", SAMPLE_CONTEXT)
    assert subject == "[Case 25 004 217] Received: your notification (our reference CAS-1234567)"
    assert "We have received it and are gathering the information" in text
    subject, text, _html = templates.render("acknowledgement", with_case(council_ref=None))
    assert subject == "[Case 25 004 217] Received: your notification"
    assert "Our reference" not in text


def test_triage_explains_why_with_or_without_a_case(templates: Templates) -> None:
    reason = "The sender's DMARC check failed, so it may not be from the Ombudsman."
    subject, text, html = templates.render("triage", context(reason=reason, case=None))
    assert subject == "A message in the Ombudsman mailbox needs a person"
    assert reason in text
    assert "not sure" in text
    assert "Case reference" not in text
    assert "Case reference" not in html
    subject, text, _html = templates.render("triage", context(message_kind="chaser_first"))
    assert subject.startswith("[Case 25 004 217] ")
    assert "a first chaser" in text


@pytest.mark.parametrize("name", ["alert_chaser_first", "alert_chaser_final", "alert_public_report"])
@pytest.mark.parametrize(
    "task", [None, {"token": "", "title": "", "detail": "", "due": None, "working_days_left": 0}]
)
def test_alerts_without_a_task(templates: Templates, name: str, task: object) -> None:
    subject, text, html = templates.render(name, context(task=task))
    assert subject.startswith("[Case 25 004 217] ")
    assert "[Task" not in subject
    assert "as soon as possible" in text or "a task to do this." in text
    assert "Due date" not in text
    assert "Due date" not in html


@pytest.mark.parametrize("name", ["task_new", "task_reminder", "task_priority", "task_done_ack"])
def test_a_task_without_a_due_date(templates: Templates, name: str) -> None:
    subject, text, _html = templates.render(name, with_task(due=None))
    assert "reply by" not in subject
    assert "working days left" not in text
    if name != "task_done_ack":
        assert "Due date: not known yet\n\n" in text


def test_a_case_known_only_by_the_council_reference(templates: Templates) -> None:
    subject, _text, _html = templates.render("task_new", with_case(ombudsman_ref=""))
    assert subject.startswith("[Case CAS-1234567] [Task T7QK2M] ")


def test_a_case_without_a_service_area(templates: Templates) -> None:
    ctx = with_case(service_area="")
    _subject, text, _html = templates.render("triage", ctx)
    assert "Service area: not set yet" in text
    subject, text, _html = templates.render("alert_chaser_first", ctx)
    assert subject == "[Case 25 004 217] Ombudsman chaser"
    assert "We have given the service area a priority task" in text


def test_no_recipient_name_still_greets(templates: Templates) -> None:
    _subject, text, html = templates.render("task_new", context(recipient_name=""))
    assert text.startswith("Hello,\n\n")
    assert "<p>Hello,</p>" in html


def test_html_is_escaped_and_text_is_not(templates: Templates) -> None:
    ctx = with_case(subject="Repairs <b>& damp</b>")
    _subject, text, html = templates.render("case_closed_notice", ctx)
    assert "Repairs <b>& damp</b>" in text
    assert "Repairs &lt;b&gt;&amp; damp&lt;/b&gt;" in html


def test_task_detail_keeps_its_lines_in_html(templates: Templates) -> None:
    ctx = with_task(detail="First <thing>.\nSecond line.\n\nNew paragraph.")
    _subject, _text, html = templates.render("task_new", ctx)
    assert "<p>First &lt;thing&gt;.<br>\nSecond line.</p>\n<p>New paragraph.</p>" in html


def test_a_newline_in_a_title_does_not_reach_the_subject(templates: Templates) -> None:
    subject, _text, _html = templates.render("task_new", with_task(title="Order 1:\nan apology"))
    assert subject == "[Case 25 004 217] [Task T7QK2M] Order 1: an apology: reply by Mon 30 Mar 2026"


def test_a_missing_variable_names_the_template_file(templates: Templates) -> None:
    ctx = context()
    del ctx["task"]
    with pytest.raises(TemplateError, match=r"task_new\.txt\.j2") as caught:
        templates.render("task_new", ctx)
    assert "\n" not in str(caught.value)
    assert "task" in str(caught.value)


def test_a_missing_field_names_the_piece_it_is_used_in(templates: Templates) -> None:
    case = dict(SAMPLE_CONTEXT["case"])  # type: ignore[call-overload]
    del case["service_area"]
    with pytest.raises(TemplateError, match=r"missing variable.*service_area") as caught:
        templates.render("acknowledgement", context(case=case))
    assert "acknowledgement.txt.j2" in str(caught.value)


def test_a_wrong_type_is_a_template_error(templates: Templates) -> None:
    with pytest.raises(TemplateError, match=r"task_new\.txt\.j2: line \d+: expected a date"):
        templates.render("task_new", with_task(due="30/03/2026"))


def test_an_unknown_template_is_a_template_error(templates: Templates) -> None:
    with pytest.raises(TemplateError, match=r"task_unheard_of\.txt\.j2: template not found"):
        templates.render("task_unheard_of", SAMPLE_CONTEXT)


def test_the_override_folder_wins(tmp_path: Path) -> None:
    (tmp_path / "task_new.txt.j2").write_text(
        "{% extends '_base.txt.j2' %}\n"
        "{% block subject %}[Case {{ case.ombudsman_ref }}] [Task {{ task.token }}] Over to you"
        "{% endblock %}\n"
        "{% block body %}Our own words for {{ case.service_area }}.{% endblock %}\n",
        encoding="utf-8",
    )
    (tmp_path / "_base.html.j2").write_text("<p>Council house style</p>{% block body %}{% endblock %}")
    templates = Templates(tmp_path)
    subject, text, html = templates.render("task_new", SAMPLE_CONTEXT)
    assert subject == "[Case 25 004 217] [Task T7QK2M] Over to you"
    assert "Our own words for Housing Repairs." in text
    assert "Kind regards," in text  # the bundled base layout still applies to the text
    assert html.startswith("<p>Council house style</p>")
    assert "reply to this email with done on the first line" in html  # the bundled html body
    assert templates.check() == []
    # The bundled templates are untouched for everyone else.
    assert Templates().render("task_new", SAMPLE_CONTEXT)[0].endswith("reply by Mon 30 Mar 2026")


def test_a_syntax_error_in_an_override_names_the_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "task_reminder.txt.j2").write_text("Subject: hello\n\n{% if task %}\nno end\n")
    templates = Templates(tmp_path)
    with pytest.raises(TemplateError, match=r"task_reminder\.txt\.j2: line \d+: syntax error"):
        templates.render("task_reminder", SAMPLE_CONTEXT)
    problems = templates.check()
    assert len(problems) == 1
    assert "task_reminder.txt.j2" in problems[0]


def test_check_finds_subjects_that_would_not_thread(tmp_path: Path) -> None:
    (tmp_path / "task_reminder.txt.j2").write_text("Subject: A reminder\n\nPlease do it.\n")
    problems = Templates(tmp_path).check()
    assert problems == [
        "task_reminder.txt.j2: the subject does not carry [Case 25 004 217]; replies will not thread",
        "task_reminder.txt.j2: the subject does not carry [Task T7QK2M]; replies will not thread",
    ]


def test_check_finds_a_template_without_its_pair(tmp_path: Path) -> None:
    (tmp_path / "extra_notice.txt.j2").write_text("Subject: [Case {{ case.ombudsman_ref }}] Hello\n\nHi\n")
    problems = Templates(tmp_path).check()
    assert len(problems) == 1
    assert "extra_notice.html.j2: template not found" in problems[0]


def test_the_subject_line_must_come_first(tmp_path: Path) -> None:
    (tmp_path / "triage.txt.j2").write_text("Hello {{ reason }}\n")
    with pytest.raises(TemplateError, match=r"triage\.txt\.j2: the first line must be 'Subject: \.\.\.'"):
        Templates(tmp_path).render("triage", SAMPLE_CONTEXT)


def test_a_missing_override_folder_is_a_template_error(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match="templates folder not found"):
        Templates(tmp_path / "nowhere")


def test_templates_cannot_reach_python_internals(tmp_path: Path) -> None:
    (tmp_path / "triage.txt.j2").write_text("Subject: x\n\n{{ reason.__class__.__mro__ }}\n")
    with pytest.raises(TemplateError, match=r"triage\.txt\.j2"):
        Templates(tmp_path).render("triage", SAMPLE_CONTEXT)


def test_dates_and_days_in_plain_words() -> None:
    assert long_date(date(2026, 3, 30)) == "Monday 30 March 2026"
    assert long_date(date(2025, 12, 1)) == "Monday 1 December 2025"
    assert short_date(date(2026, 3, 30)) == "Mon 30 Mar 2026"
    assert [days_left(n) for n in (3, 1, 0, -1, -4)] == [
        "3 working days left",
        "1 working day left",
        "due today",
        "1 working day overdue",
        "4 working days overdue",
    ]
    with pytest.raises(TypeError):
        days_left(True)


# --- building the MIME message ---------------------------------------------------------------


def outgoing(templates: Templates, **changes: object) -> Outgoing:
    subject, text, html = templates.render("task_new", SAMPLE_CONTEXT)
    fields: dict[str, object] = {
        "to": ("repairs@northmere.gov.uk",),
        "subject": subject,
        "text": text,
        "html": html,
    }
    fields.update(changes)
    return Outgoing(**fields)  # type: ignore[arg-type]


def build(message: Outgoing, now: datetime = NOW) -> EmailMessage:
    return build_email(
        message,
        from_address="Northmere Ombudsman mailbox <ombudsman@northmere.gov.uk>",
        reply_to="ombudsman@northmere.gov.uk",
        message_id_domain="inboxbot.northmere.gov.uk",
        now=now,
    )


def parse(message: EmailMessage) -> EmailMessage:
    parsed = email.message_from_bytes(message.as_bytes(), policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def an_invite(method: str = "REQUEST") -> str:
    return invite(
        uid="task-T7QK2M@inboxbot.northmere.gov.uk",
        sequence=1,
        summary="Due: Information request (case 25 004 217)",
        description="Reply with done on the first line.",
        due=date(2026, 3, 30),
        organiser="ombudsman@northmere.gov.uk",
        attendees=["repairs@northmere.gov.uk"],
        now=NOW,
        method=method,  # type: ignore[arg-type]
    )


def test_headers_say_the_mail_is_automatic_and_where_replies_go(templates: Templates) -> None:
    message = parse(build(outgoing(templates, cc=("head.repairs@northmere.gov.uk",))))
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["X-Auto-Response-Suppress"] == "All"
    assert "Precedence" not in message
    assert message["Reply-To"] == "ombudsman@northmere.gov.uk"
    assert message["From"].addresses[0].addr_spec == "ombudsman@northmere.gov.uk"
    assert message["To"] == "repairs@northmere.gov.uk"
    assert message["Cc"] == "head.repairs@northmere.gov.uk"
    # Python folds a long subject onto the next line whole, which leaves a space after unfolding.
    assert message["Subject"].strip() == (
        "[Case 25 004 217] [Task T7QK2M] Information request: reply by Mon 30 Mar 2026"
    )
    assert message["Message-ID"].endswith("@inboxbot.northmere.gov.uk>")
    sent = parsedate_to_datetime(message["Date"])
    assert sent.tzinfo is not None
    assert sent == NOW


def test_no_cc_header_without_copies(templates: Templates) -> None:
    assert "Cc" not in parse(build(outgoing(templates)))


def test_each_message_gets_its_own_id(templates: Templates) -> None:
    first, second = build(outgoing(templates)), build(outgoing(templates))
    assert first["Message-ID"] != second["Message-ID"]


def test_extra_headers_are_added_or_replace_ours(templates: Templates) -> None:
    headers = {"In-Reply-To": "<abc@lgo.org.uk>", "References": "<abc@lgo.org.uk>", "Message-ID": "<t1@x>"}
    message = parse(build(outgoing(templates, headers=headers)))
    assert message["In-Reply-To"] == "<abc@lgo.org.uk>"
    assert message["References"] == "<abc@lgo.org.uk>"
    assert message.get_all("Message-ID") == ["<t1@x>"]


@pytest.mark.parametrize("name", ["Auto-Submitted", "x-auto-response-suppress", "From", "Subject"])
def test_loop_protection_and_addressing_cannot_be_replaced(templates: Templates, name: str) -> None:
    with pytest.raises(ValueError, match="cannot be replaced"):
        build(outgoing(templates, headers={name: "no"}))


def test_text_and_html_are_alternatives(templates: Templates) -> None:
    message = parse(build(outgoing(templates)))
    assert message.get_content_type() == "multipart/alternative"
    parts = list(message.iter_parts())
    assert [part.get_content_type() for part in parts] == ["text/plain", "text/html"]
    plain = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert plain is not None
    assert html is not None
    assert "reply to this email with done on the first line" in plain.get_content()
    assert "<strong>Monday 30 March 2026</strong>" in html.get_content()


def test_text_only_when_there_is_no_html(templates: Templates) -> None:
    message = parse(build(outgoing(templates, html=None)))
    assert message.get_content_type() == "text/plain"
    assert "Monday 30 March 2026" in message.get_content()


def test_an_invite_is_an_alternative_and_an_attachment(templates: Templates) -> None:
    ics = an_invite()
    message = parse(build(outgoing(templates, ics=ics)))
    assert message.get_content_type() == "multipart/mixed"
    alternative, attachment = list(message.iter_parts())
    assert alternative.get_content_type() == "multipart/alternative"
    kinds = [part.get_content_type() for part in alternative.iter_parts()]
    assert kinds == ["text/plain", "text/html", "text/calendar"]
    calendar_part = list(alternative.iter_parts())[2]
    assert calendar_part.get_param("method") == "REQUEST"
    assert str(calendar_part.get_param("charset")).lower() == "utf-8"
    assert calendar_part.get_content().replace("\r\n", "\n") == ics.replace("\r\n", "\n")
    assert attachment.get_content_type() == "application/ics"
    assert attachment.get_content_disposition() == "attachment"
    assert attachment.get_filename() == "invite.ics"
    assert attachment.get_content() == ics.encode("utf-8")
    # The reader's view: the text body is still the one shown.
    body = message.get_body(preferencelist=("html", "plain"))
    assert body is not None
    assert body.get_content_type() == "text/html"


def test_a_cancellation_says_so_in_the_content_type(templates: Templates) -> None:
    message = parse(build(outgoing(templates, ics=an_invite("CANCEL"))))
    calendar_part = next(part for part in message.walk() if part.get_content_type() == "text/calendar")
    assert calendar_part.get_param("method") == "CANCEL"


def test_an_invite_without_a_method_is_refused(templates: Templates) -> None:
    with pytest.raises(ValueError, match="METHOD"):
        build(outgoing(templates, ics="BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n"))


def test_a_naive_clock_is_refused(templates: Templates) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        build(outgoing(templates), now=datetime(2026, 3, 23, 9, 30))  # noqa: DTZ001


def test_an_email_needs_a_recipient(templates: Templates) -> None:
    with pytest.raises(ValueError, match="recipient"):
        build(outgoing(templates, to=()))


def test_utc_clock_gives_a_utc_date_header(templates: Templates) -> None:
    now = datetime(2026, 3, 23, 9, 30, tzinfo=UTC)
    message = parse(build(outgoing(templates), now=now))
    assert message["Date"].endswith("+0000")
    assert parsedate_to_datetime(message["Date"]) == now
