"""The quarterly KPI email and the annual report to SLT, with their charts inline.

:func:`render_kpis` and :func:`render_annual` give ``(subject, text, html, images)``, the
HTML pointing at each chart as ``<img src="cid:...">`` and ``images`` mapping each
Content-ID (without angle brackets) to its PNG. :func:`build_report_email` puts them into a
``multipart/alternative`` message whose HTML part is ``multipart/related`` with the PNGs
as inline parts, carrying the same loop-protection headers as the rest of the bot's mail.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from html import escape

from inboxbot.adapters.charts import cases_by_service_area_chart, on_time_by_quarter_chart
from inboxbot.adapters.messages import LOOP_HEADERS, day_month_year
from inboxbot.service.kpis import AnnualReport, Kpis

AREAS_CID = "cases-by-area@inboxbot"
ON_TIME_CID = "on-time-by-quarter@inboxbot"

OMBUDSMAN_NAMES: Mapping[str, str] = {
    "lgsco": "Local Government and Social Care Ombudsman",
    "hos": "Housing Ombudsman",
}

KIND_NAMES: Mapping[str, str] = {
    "notification": "New complaint notifications",
    "information_request": "Requests for information",
    "draft_decision": "Draft decisions",
    "final_decision": "Final decisions",
    "public_report": "Public reports",
    "chaser_first": "First chasers",
    "chaser_final": "Final chasers",
    "case_closed": "Case closures",
    "case_update": "Case updates",
    "portal_message": "Portal messages",
    "auto_reply": "Automatic replies",
    "other": "Other mail",
    "unknown": "Not yet identified",
}

Rendered = tuple[str, str, str, dict[str, bytes]]

_FAULT_NOTE = (
    "Decisions with fault found is an estimate: it counts final decisions that came with "
    "orders or recommendations."
)


def render_kpis(kpis: Kpis) -> Rendered:
    """The quarterly KPI email: subject, plain text, HTML and the inline charts."""
    subject = f"Ombudsman KPIs for {kpis.period.label}"
    intro = (
        f"These are the Ombudsman figures for {kpis.period.label} "
        f"({day_month_year(kpis.period.start)} to {day_month_year(kpis.period.end)})."
    )
    images = {
        AREAS_CID: cases_by_service_area_chart(kpis.cases_by_service_area),
        ON_TIME_CID: on_time_by_quarter_chart(
            [kpis.period.label], [kpis.information_on_time_percent], [kpis.remedies_on_time_percent]
        ),
    }
    sections = _sections(kpis)
    text = _text(intro, sections)
    html = _html(
        subject,
        intro,
        sections,
        [(AREAS_CID, "Cases received by service area"), (ON_TIME_CID, "Responses on time")],
    )
    return subject, text, html, images


def render_annual(report: AnnualReport) -> Rendered:
    """The annual report to SLT: the year's figures, then each quarter's on-time record."""
    year = report.year
    subject = f"Ombudsman annual report {year.period.label}"
    intro = (
        f"This is the annual Ombudsman report for {year.period.label} "
        f"({day_month_year(year.period.start)} to {day_month_year(year.period.end)}), "
        "with the figures for each quarter."
    )
    labels = [quarter.period.label for quarter in report.quarters]
    images = {
        AREAS_CID: cases_by_service_area_chart(year.cases_by_service_area),
        ON_TIME_CID: on_time_by_quarter_chart(
            labels,
            [quarter.information_on_time_percent for quarter in report.quarters],
            [quarter.remedies_on_time_percent for quarter in report.quarters],
        ),
    }
    sections = _sections(year)
    sections.append(
        (
            "By quarter",
            [
                (
                    quarter.period.label,
                    f"{quarter.cases_received} cases received; information requests on time "
                    f"{_pct(quarter.information_on_time_percent)}; remedies on time "
                    f"{_pct(quarter.remedies_on_time_percent)}",
                )
                for quarter in report.quarters
            ],
        )
    )
    text = _text(intro, sections)
    html = _html(
        subject,
        intro,
        sections,
        [(AREAS_CID, "Cases received by service area"), (ON_TIME_CID, "Responses on time by quarter")],
    )
    return subject, text, html, images


def build_report_email(
    sender: str,
    recipients: Sequence[str],
    rendered: Rendered,
    *,
    message_id_domain: str | None = None,
) -> EmailMessage:
    """An email ready to send: text and HTML alternatives, the charts inline in the HTML."""
    subject, text, html, images = rendered
    message = EmailMessage()
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = make_msgid(domain=message_id_domain)
    for name, value in LOOP_HEADERS.items():
        message[name] = value
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    html_part = message.get_body(("html",))
    assert isinstance(html_part, EmailMessage)
    for cid, png in images.items():
        html_part.add_related(png, maintype="image", subtype="png", cid=f"<{cid}>", filename=_filename(cid))
    # add_related gives each image "Content-Disposition: attachment" when a filename is set; make them inline.
    for part in html_part.iter_parts():
        if part.get_content_type() == "image/png":
            part.replace_header("Content-Disposition", f'inline; filename="{part.get_filename()}"')
    return message


Section = tuple[str, list[tuple[str, str]]]


def _sections(kpis: Kpis) -> list[Section]:
    received: list[tuple[str, str]] = [("Cases received", str(kpis.cases_received))]
    received += [
        (f"From the {OMBUDSMAN_NAMES.get(key, key)}", str(count))
        for key, count in kpis.cases_by_ombudsman.items()
    ]
    areas = [(area, str(count)) for area, count in kpis.cases_by_service_area.items()]
    kinds = [(KIND_NAMES.get(kind, kind), str(count)) for kind, count in kpis.messages_by_kind.items()]
    responses = [
        ("Information requests due", str(kpis.information_requests)),
        (
            "Answered on time",
            f"{kpis.information_requests_on_time} ({_pct(kpis.information_on_time_percent)})",
        ),
        ("Average working days to respond", _days(kpis.average_working_days_to_respond)),
        ("Chasers", str(kpis.chasers)),
        ("Final chasers", str(kpis.final_chasers)),
        ("Complaint Handling Failure Order warnings", str(kpis.chfo_warnings)),
        ("Witness summons warnings", str(kpis.witness_summonses)),
    ]
    decisions = [
        ("Final decisions received", str(kpis.final_decisions)),
        ("Decisions with fault found (estimate)", str(kpis.fault_found)),
        ("Remedies due", str(kpis.remedies)),
        ("Complied with on time", f"{kpis.remedies_on_time} ({_pct(kpis.remedies_on_time_percent)})"),
    ]
    return [
        ("Cases received", received),
        ("Cases by service area", areas or [("None", "0")]),
        ("Messages by type", kinds or [("None", "0")]),
        ("Responding to the Ombudsman", responses),
        ("Decisions and remedies", decisions),
    ]


def _text(intro: str, sections: list[Section]) -> str:
    lines = [intro, ""]
    for heading, rows in sections:
        lines += [heading, "-" * len(heading)]
        lines += [f"{label}: {value}" for label, value in rows]
        lines.append("")
    lines += [_FAULT_NOTE, "", "This report was produced automatically by inboxbot."]
    return "\n".join(lines) + "\n"


def _html(subject: str, intro: str, sections: list[Section], charts: list[tuple[str, str]]) -> str:
    parts = [
        "<!DOCTYPE html>",
        f'<html lang="en-GB"><head><meta charset="utf-8"><title>{escape(subject)}</title></head>',
        '<body style="font-family: Arial, sans-serif; font-size: 14px; color: #222;">',
        f"<p>{escape(intro)}</p>",
    ]
    for heading, rows in sections:
        parts.append(f"<h3>{escape(heading)}</h3>")
        parts.append('<table style="border-collapse: collapse;">')
        parts += [
            f'<tr><td style="padding: 2px 12px 2px 0;">{escape(label)}</td>'
            f'<td style="text-align: right;">{escape(value)}</td></tr>'
            for label, value in rows
        ]
        parts.append("</table>")
    for cid, alt in charts:
        parts.append(f'<p><img src="cid:{escape(cid)}" alt="{escape(alt)}" width="640"></p>')
    parts += [
        f"<p><small>{escape(_FAULT_NOTE)}</small></p>",
        "<p><small>This report was produced automatically by inboxbot.</small></p>",
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"


def _pct(value: float | None) -> str:
    return "none due" if value is None else f"{value:g}%"


def _days(value: float | None) -> str:
    return "none answered" if value is None else f"{value:g}"


def _filename(cid: str) -> str:
    return cid.split("@", 1)[0] + ".png"
