"""Who really sent a message (DMARC via the council's gateway, lookalikes, display names) and
whether a machine sent it (auto-replies, bounces, read receipts, lists)."""

from __future__ import annotations

import email
import email.policy
from email.message import Message

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inboxbot.domain.kinds import Ombudsman
from inboxbot.domain.trust import (
    _AUTOMATIC_CHECKS,
    _MDN,
    _PLAIN_MAILBOX,
    _REPORT_HINTS,
    DEFAULT_OMBUDSMAN_DOMAINS,
    AutomaticVerdict,
    SenderVerdict,
    TrustSettings,
    _chunks,
    _content_type,
    _lex,
    assess_sender,
    detect_automatic,
)

GATEWAY = "mx.northmere.gov.uk"
SETTINGS = TrustSettings(
    authserv_ids=frozenset({GATEWAY}),
    ombudsman_domains=DEFAULT_OMBUDSMAN_DOMAINS,
    council_domains=frozenset({"northmere.gov.uk"}),
)
LGSCO_FROM = "From: Intake Team <intake@lgo.org.uk>"
HOS_FROM = "From: Housing Ombudsman Service <casework@housing-ombudsman.org.uk>"
MICROSOFT = (
    "Authentication-Results: spf=pass (sender IP is 51.140.1.2) smtp.mailfrom=lgo.org.uk; "
    "dkim=pass (signature was verified) header.d=lgo.org.uk;dmarc=pass action=none "
    "header.from=lgo.org.uk;compauth=pass reason=100"
)


def parse(raw: bytes) -> Message:
    """How the pipeline parses stored mail."""
    return email.message_from_bytes(raw, policy=email.policy.default)


def mail(*headers: str, body: str = "Dear Sir or Madam,\r\n") -> Message:
    """A message from header lines (folding allowed) and a plain body."""
    return parse(("\r\n".join(headers) + "\r\n\r\n" + body).encode())


def council(dmarc: str = "pass", header_from: str = "lgo.org.uk", authserv_id: str = GATEWAY) -> str:
    """An Authentication-Results header as the council's gateway writes it, folded."""
    return (
        f"Authentication-Results: {authserv_id};\r\n"
        f"\tspf=pass (sender IP is 51.140.1.2) smtp.mailfrom={header_from};\r\n"
        f"\tdkim=pass header.d={header_from} header.s=s1 header.b=Qk3/x+Zz==;\r\n"
        f"\tdmarc={dmarc} (p=quarantine; dis=none) header.from={header_from}"
    )


def untrusted(verdict: SenderVerdict, ombudsman: Ombudsman | None, spoof: bool) -> bool:
    return not verdict.trusted and verdict.ombudsman is ombudsman and verdict.spoof_suspected is spoof


# --- genuine Ombudsman mail -------------------------------------------------------------------


def test_genuine_lgsco_mail_is_trusted() -> None:
    verdict = assess_sender(mail(council(), LGSCO_FROM, "Subject: 24 012 345"), SETTINGS)
    assert verdict == SenderVerdict(
        trusted=True,
        ombudsman=Ombudsman.LGSCO,
        reason="DMARC pass for lgo.org.uk (Authentication-Results from mx.northmere.gov.uk)",
        spoof_suspected=False,
    )


def test_genuine_hos_mail_is_trusted() -> None:
    verdict = assess_sender(mail(council(header_from="housing-ombudsman.org.uk"), HOS_FROM), SETTINGS)
    assert verdict.trusted
    assert verdict.ombudsman is Ombudsman.HOS
    assert "housing-ombudsman.org.uk" in verdict.reason


def test_a_subdomain_of_an_ombudsman_is_the_same_organisation() -> None:
    message = mail(council(header_from="casework.lgo.org.uk"), "From: Casework <cw@casework.lgo.org.uk>")
    verdict = assess_sender(message, SETTINGS)
    assert verdict.trusted
    assert verdict.ombudsman is Ombudsman.LGSCO


def test_authserv_id_and_result_are_read_case_insensitively_with_a_version() -> None:
    header = "Authentication-Results: MX.Northmere.GOV.UK 1; DMARC=Pass header.from=LGO.org.uk"
    assert assess_sender(mail(header, LGSCO_FROM), SETTINGS).trusted


def test_microsoft_style_header_stamped_with_the_councils_authserv_id() -> None:
    header = MICROSOFT.replace("Authentication-Results: ", f"Authentication-Results: {GATEWAY}; ")
    assert assess_sender(mail(header, LGSCO_FROM), SETTINGS).trusted


def test_microsoft_365_header_without_authserv_id_counts_only_when_configured() -> None:
    message = mail(MICROSOFT, LGSCO_FROM)
    assert not assess_sender(message, SETTINGS).trusted
    exchange_online = TrustSettings(frozenset({""}), DEFAULT_OMBUDSMAN_DOMAINS)
    verdict = assess_sender(message, exchange_online)
    assert verdict.trusted
    assert "no authserv-id" in verdict.reason


def test_comments_holding_semicolons_and_equals_do_not_split_results() -> None:
    header = (
        f"Authentication-Results: {GATEWAY} (gateway; v=1);\r\n spf=pass (a (nested; dmarc=fail) note)"
        ' smtp.mailfrom=lgo.org.uk;\r\n dmarc=pass reason="aligned; ok" header.from=lgo.org.uk'
    )
    assert assess_sender(mail(header, LGSCO_FROM), SETTINGS).trusted


# --- DMARC that does not pass -----------------------------------------------------------------


def test_dmarc_fail_from_the_real_domain_is_suspected_spoofing() -> None:
    verdict = assess_sender(mail(council(dmarc="fail"), LGSCO_FROM), SETTINGS)
    assert untrusted(verdict, Ombudsman.LGSCO, spoof=True)
    assert verdict.reason == "DMARC fail for lgo.org.uk"


def test_dmarc_none_for_an_ombudsman_domain_is_suspected_spoofing() -> None:
    verdict = assess_sender(mail(council(dmarc="none"), LGSCO_FROM), SETTINGS)
    assert untrusted(verdict, Ombudsman.LGSCO, spoof=True)
    assert verdict.reason == "DMARC none for lgo.org.uk"


def test_dmarc_temperror_is_untrusted_but_not_a_spoof() -> None:
    verdict = assess_sender(mail(council(dmarc="temperror"), LGSCO_FROM), SETTINGS)
    assert untrusted(verdict, Ombudsman.LGSCO, spoof=False)


def test_pass_stamped_by_another_authserv_id_is_ignored() -> None:
    verdict = assess_sender(mail(council(authserv_id="mx.attacker.example"), LGSCO_FROM), SETTINGS)
    assert untrusted(verdict, Ombudsman.LGSCO, spoof=False)
    assert verdict.reason == "no Authentication-Results from the council's gateway"


def test_council_fail_wins_over_an_attackers_pass() -> None:
    forged = council(authserv_id="mx.attacker.example")
    verdict = assess_sender(mail(council(dmarc="fail"), forged, LGSCO_FROM), SETTINGS)
    assert untrusted(verdict, Ombudsman.LGSCO, spoof=True)


def test_any_fail_among_the_councils_dmarc_results_wins() -> None:
    header = (
        f"Authentication-Results: {GATEWAY}; dmarc=pass header.from=lgo.org.uk;"
        " dmarc=FAIL header.from=lgo.org.uk"
    )
    assert untrusted(assess_sender(mail(header, LGSCO_FROM), SETTINGS), Ombudsman.LGSCO, spoof=True)
    two_headers = mail(council(), council(dmarc="fail"), LGSCO_FROM)
    assert untrusted(assess_sender(two_headers, SETTINGS), Ombudsman.LGSCO, spoof=True)


@pytest.mark.parametrize(
    "header",
    [
        f"ARC-Authentication-Results: i=1; {GATEWAY}; dmarc=pass header.from=lgo.org.uk",
        f"Authentication-Results-Original: {GATEWAY}; dmarc=pass header.from=lgo.org.uk",
        f"X-Authentication-Results: {GATEWAY}; dmarc=pass header.from=lgo.org.uk",
    ],
)
def test_other_headers_carrying_results_do_not_count(header: str) -> None:
    assert not assess_sender(mail(header, LGSCO_FROM), SETTINGS).trusted


def test_an_authserv_id_written_as_an_encoded_word_is_not_the_councils() -> None:
    # The gateway would not recognise this as its own header and strip it; decoding it would.
    header = "Authentication-Results: =?us-ascii?q?mx.northmere.gov.uk?=; dmarc=pass header.from=lgo.org.uk"
    assert not assess_sender(mail(header, LGSCO_FROM), SETTINGS).trusted


@pytest.mark.parametrize("authserv_id", ['"mx.northmere.gov.uk"', "(gateway) mx.northmere.gov.uk"])
def test_an_authserv_id_in_an_unusual_form_is_not_the_councils(authserv_id: str) -> None:
    # Legal RFC 8601, but a gateway stripping forged copies of its header may miss these forms.
    assert not assess_sender(mail(council(authserv_id=authserv_id), LGSCO_FROM), SETTINGS).trusted


def test_a_pass_for_another_domain_does_not_make_ombudsman_mail_trusted() -> None:
    verdict = assess_sender(mail(council(header_from="evil.example"), LGSCO_FROM), SETTINGS)
    assert untrusted(verdict, Ombudsman.LGSCO, spoof=True)
    assert verdict.reason == "DMARC pass is for evil.example, not for the From: domain lgo.org.uk"


def test_a_pass_without_header_from_cannot_be_matched() -> None:
    header = f"Authentication-Results: {GATEWAY}; dmarc=pass"
    assert untrusted(assess_sender(mail(header, LGSCO_FROM), SETTINGS), Ombudsman.LGSCO, spoof=False)


def test_missing_authentication_results() -> None:
    verdict = assess_sender(mail(LGSCO_FROM), SETTINGS)
    assert untrusted(verdict, Ombudsman.LGSCO, spoof=False)
    assert verdict.reason == "no Authentication-Results from the council's gateway"


def test_council_header_without_a_dmarc_result() -> None:
    header = f"Authentication-Results: {GATEWAY}; spf=pass smtp.mailfrom=lgo.org.uk"
    verdict = assess_sender(mail(header, LGSCO_FROM), SETTINGS)
    assert untrusted(verdict, Ombudsman.LGSCO, spoof=False)
    assert "no DMARC result" in verdict.reason


def test_several_authors_are_never_trusted() -> None:
    list_of_two = assess_sender(mail(council(), "From: intake@lgo.org.uk, evil@x.example"), SETTINGS)
    assert untrusted(list_of_two, Ombudsman.LGSCO, spoof=True)
    two_headers = assess_sender(mail(council(), LGSCO_FROM, "From: evil@x.example"), SETTINGS)
    assert untrusted(two_headers, Ombudsman.LGSCO, spoof=True)


# --- lookalikes and display names -------------------------------------------------------------


@pytest.mark.parametrize(
    ("sender", "ombudsman", "how"),
    [
        ("intake@lg0.org.uk", Ombudsman.LGSCO, "differs by 1 character"),
        ("intake@1go.org.uk", Ombudsman.LGSCO, "differs by 1 character"),
        ("intake@log.org.uk", Ombudsman.LGSCO, "differs by 1 character"),  # a swap is one edit
        ("intake@lgo-org.uk", Ombudsman.LGSCO, "hyphens or dots"),
        ("intake@lgo.com", Ombudsman.LGSCO, "different ending"),
        ("intake@lgo-secure.com", Ombudsman.LGSCO, "inside another domain"),
        ("cw@housing-ombudsman.org.uk.evil.example", Ombudsman.HOS, "contains the real domain"),
        ("cw@housingombudsman.org.uk", Ombudsman.HOS, "hyphens or dots"),
        ("cw@housing-ombudsman.co.uk", Ombudsman.HOS, "different ending"),
        ("cw@housingombudsman.co", Ombudsman.HOS, "hyphens or dots"),
        ("cw@housing-ombudsmen.org.uk", Ombudsman.HOS, "differs by 1 character"),
        ("cw@housing-ombudsman-uk.com", Ombudsman.HOS, "inside another domain"),
        ("cw@h0using-0mbudsman.c0.uk", Ombudsman.HOS, "look-alike characters"),
        ("intake@xn--lg-gmc.org.uk", Ombudsman.LGSCO, "look-alike characters"),  # Cyrillic о
    ],
)
def test_lookalike_domains_are_flagged(sender: str, ombudsman: Ombudsman, how: str) -> None:
    verdict = assess_sender(mail(council(header_from=sender.split("@")[1]), f"From: {sender}"), SETTINGS)
    assert untrusted(verdict, ombudsman, spoof=True)
    assert verdict.reason.startswith(f"lookalike domain {sender.split('@')[1]} imitates ")
    assert how in verdict.reason


def test_homoglyph_domain_written_as_raw_utf8() -> None:
    raw = "From: Intake <intake@lgо.org.uk>\r\n\r\nbody".encode()  # the "о" is Cyrillic
    verdict = assess_sender(parse(raw), SETTINGS)
    assert untrusted(verdict, Ombudsman.LGSCO, spoof=True)
    assert verdict.reason == (
        "lookalike domain lgо.org.uk (xn--lg-gmc.org.uk) imitates lgo.org.uk "
        "(look-alike characters: reads as lgo.org.uk)"
    )


@pytest.mark.parametrize(
    "sender",
    [
        "casework@ico.org.uk",
        "x@nao.org.uk",
        "x@gmail.com",
        "x@ombudsman.org.uk",
        "x@lgfl.net",
        "x@[192.0.2.1]",
    ],
)
def test_unrelated_domains_are_not_lookalikes(sender: str) -> None:
    verdict = assess_sender(mail(f"From: {sender}"), SETTINGS)
    assert untrusted(verdict, None, spoof=False)
    assert "is not an Ombudsman domain" in verdict.reason


def test_display_name_claiming_the_housing_ombudsman() -> None:
    verdict = assess_sender(mail("From: Housing Ombudsman <hos.casework@gmail.com>"), SETTINGS)
    assert verdict == SenderVerdict(
        trusted=False,
        ombudsman=Ombudsman.HOS,
        reason="display name claims the Housing Ombudsman but the address is hos.casework@gmail.com",
        spoof_suspected=True,
    )


@pytest.mark.parametrize(
    ("from_header", "ombudsman"),
    [
        ("LGSCO Intake <intake@outlook.com>", Ombudsman.LGSCO),
        ('"Local Government and Social Care Ombudsman" <x@mail.example>', Ombudsman.LGSCO),
        ("=?utf-8?q?Local_Government_=26_Social_Care_Ombudsman?= <x@mail.example>", Ombudsman.LGSCO),
        ("caseworker@mail.example (Housing Ombudsman)", Ombudsman.HOS),
        ("Housing Оmbudsman <x@mail.example>", Ombudsman.HOS),  # Cyrillic О
        ("intake@lgo.org.uk <evil@x.example>", Ombudsman.LGSCO),
        ('"casework@housing-ombudsman.org.uk" <evil@x.example>', Ombudsman.HOS),
        ("The Ombudsman <x@mail.example>", None),
    ],
)
def test_display_name_spoofing(from_header: str, ombudsman: Ombudsman | None) -> None:
    verdict = assess_sender(mail(council(header_from="x.example"), f"From: {from_header}"), SETTINGS)
    assert untrusted(verdict, ombudsman, spoof=True)
    assert verdict.reason.startswith("display name claims ")


def test_councils_own_forwarding_is_untrusted_but_not_a_spoof() -> None:
    message = mail(
        council(header_from="northmere.gov.uk"),
        "From: Jane Smith <jane.smith@northmere.gov.uk>",
        "Subject: FW: Complaint 24 012 345 - information request",
    )
    verdict = assess_sender(message, SETTINGS)
    assert untrusted(verdict, None, spoof=False)
    assert "council's own domain" in verdict.reason
    # Without the council's domains configured it is still just untrusted.
    bare = TrustSettings(frozenset({GATEWAY}), DEFAULT_OMBUDSMAN_DOMAINS)
    assert untrusted(assess_sender(message, bare), None, spoof=False)


def test_councils_ombudsman_mailbox_is_not_a_spoof() -> None:
    verdict = assess_sender(mail("From: Ombudsman Team <ombudsman@northmere.gov.uk>"), SETTINGS)
    assert untrusted(verdict, None, spoof=False)


def test_council_mail_clearly_claiming_an_ombudsman_names_it() -> None:
    verdict = assess_sender(mail("From: Housing Ombudsman via RET <ret@northmere.gov.uk>"), SETTINGS)
    assert untrusted(verdict, Ombudsman.HOS, spoof=False)


# --- malformed input --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        (f"Authentication-Results: {GATEWAY}; dmarc=pass (unclosed header.from=lgo.org.uk", LGSCO_FROM),
        (
            f"Authentication-Results: {GATEWAY}; dmarc=fail (a) (unclosed; dmarc=pass header.from=lgo.org.uk",
            LGSCO_FROM,
        ),
        (f'Authentication-Results: {GATEWAY}; dmarc=pass header.from="evil.example', LGSCO_FROM),
        (f"Authentication-Results: {GATEWAY}; dmarc=pass ) header.from=evil.example))", LGSCO_FROM),
        ("Authentication-Results:", "From:"),
        ("Authentication-Results: ;;;==;", "From: <>"),
        ("Authentication-Results: (((", "From: ((("),
        ("From: x@",),  # raises IndexError inside the standard library's address parser
        ("From: Intake: <a@lgo.org.uk>;",),
        ("From: a <b@lgo.org.uk> <c@x.example>",),
        ('From: "unclosed <a@lgo.org.uk>',),
        ("From: <a@lgo.org.uk",),
        ("From: ,,,",),
        ("From: =?x-unknown?q?Ombudsman?= <a@x.example>", "Subject: =?utf-8?b?###?="),
        ("Content-Type: multipart/report; report-type=", "Auto-Submitted:", "Precedence:"),
        ("Content-Type: ;;", "X-Autoreply: ()"),
    ],
)
def test_malformed_headers_never_raise(headers: tuple[str, ...]) -> None:
    message = mail(*headers)
    verdict = assess_sender(message, SETTINGS)
    assert not verdict.trusted
    detect_automatic(message)


def test_non_ascii_bytes_in_headers_never_raise() -> None:
    raw = (
        b"Authentication-Results: mx.northmere.gov.uk; dmarc=pass \xff\xfe header.from=lgo.org.uk\r\n"
        b"From: Ren\xc3\xa9 \xff Intake \xa0 <intake@lgo.org.uk>\r\nSubject: \xe2\x82\r\n\r\nbody"
    )
    assert assess_sender(parse(raw), SETTINGS).ombudsman is Ombudsman.LGSCO
    assert detect_automatic(parse(raw)) is None


def calendar_answer(subject: str, method: str = "REPLY") -> Message:
    """An attendee's answer to one of the bot's calendar invitations, as Outlook sends it."""
    raw = (
        f"From: Ann Officer <ann.officer@northmere.gov.uk>\r\nSubject: {subject}\r\n"
        "Content-Class: urn:content-classes:calendarmessage\r\n"
        'Content-Type: multipart/alternative; boundary="b"\r\n\r\n'
        "--b\r\nContent-Type: text/plain\r\n\r\n\r\n"
        f'--b\r\nContent-Type: text/calendar; charset="utf-8"; method={method}\r\n\r\n'
        f"BEGIN:VCALENDAR\r\nMETHOD:{method}\r\nEND:VCALENDAR\r\n--b--\r\n"
    )
    return parse(raw.encode())


@pytest.mark.parametrize("answer", ["Accepted", "Tentative", "Tentatively accepted"])
def test_an_accepted_or_tentative_calendar_answer_is_automatic(answer: str) -> None:
    verdict = detect_automatic(calendar_answer(f"{answer}: Ombudsman deadline - 26 002 118"))
    assert verdict is not None
    assert verdict.kind == "auto_reply"
    assert "calendar reply" in verdict.evidence


def test_a_declined_invitation_or_a_subject_alone_is_for_a_person() -> None:
    # A decline may say who to ask instead; "Accepted:" without a calendar answer is someone's words.
    assert detect_automatic(calendar_answer("Declined: Ombudsman deadline in 3 working days")) is None
    assert detect_automatic(calendar_answer("Accepted: Ombudsman deadline", method="REQUEST")) is None
    assert detect_automatic(mail("Subject: Accepted: complaint 26 002 118", LGSCO_FROM)) is None


def test_a_header_that_raises_on_access_gives_a_cautious_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    message = mail(council(), LGSCO_FROM, "Auto-Submitted: auto-replied")

    def boom(*args: object, **kwargs: object) -> None:
        raise ValueError("malformed header")

    for name in ("raw_items", "get_all", "get", "walk", "get_content_type"):
        monkeypatch.setattr(message, name, boom)
    assert assess_sender(message, SETTINGS) == SenderVerdict(False, None, "no usable From: address", False)
    assert detect_automatic(message) is None


# --- automatic mail ---------------------------------------------------------------------------

DSN = (
    "From: Mail Delivery System <MAILER-DAEMON@mx.example>\r\n"
    "Subject: Returned mail\r\n"
    'Content-Type: multipart/report; report-type=delivery-status; boundary="b1"\r\n\r\n'
    "--b1\r\nContent-Type: text/plain\r\n\r\nDelivery failed.\r\n"
    "--b1\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example\r\n\r\n"
    "Final-Recipient: rfc822; a@b.example\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n"
    "--b1--\r\n"
)
MDN_PART = (
    "--b2\r\nContent-Type: text/plain\r\n\r\nYour message was read.\r\n"
    "--b2\r\nContent-Type: message/disposition-notification\r\n\r\n"
    "Final-Recipient: rfc822; ret@northmere.gov.uk\r\n"
    "Disposition: manual-action/MDN-sent-manually; displayed\r\n\r\n"
    "--b2--\r\n"
)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        (("Auto-Submitted: auto-replied",), AutomaticVerdict("auto_reply", "Auto-Submitted: auto-replied")),
        # RFC 3834's "auto-generated" answers nothing: from an Ombudsman (a portal's or casework
        # system's notification, X-Auto-Response-Suppress or not) it is read for its words...
        (
            ("From: LGSCO Portal <noreply@lgo.org.uk>", "Auto-Submitted: Auto-Generated (portal)"),
            AutomaticVerdict("generated", "Auto-Submitted: auto-generated (a notification, not a reply)"),
        ),
        (
            (
                "From: Casework <noreply@casework.housing-ombudsman.org.uk>",
                "Auto-Submitted: auto-generated",
                "X-Auto-Response-Suppress: All",
            ),
            AutomaticVerdict("generated", "Auto-Submitted: auto-generated (a notification, not a reply)"),
        ),
        # ...unless it answers a message after all, as Exchange's out-of-office replies do...
        (
            (
                "From: j.smith@lgo.org.uk",
                "Auto-Submitted: auto-generated",
                "Subject: Automatic reply: 24 012 345",
            ),
            AutomaticVerdict("auto_reply", "Auto-Submitted: auto-generated"),
        ),
        (
            (
                "From: j.smith@lgo.org.uk",
                "Auto-Submitted: auto-generated",
                "In-Reply-To: <a1@northmere.gov.uk>",
            ),
            AutomaticVerdict("auto_reply", "Auto-Submitted: auto-generated"),
        ),
        # ...and from anyone else it is an automatic reply: the bot's own mail coming back included.
        (
            ("Auto-Submitted: auto-generated",),
            AutomaticVerdict("auto_reply", "Auto-Submitted: auto-generated"),
        ),
        (
            (
                "From: Resident Experience Team <ombudsman@northmere.gov.uk>",
                "Auto-Submitted: auto-generated",
                "X-Auto-Response-Suppress: All",
            ),
            AutomaticVerdict("auto_reply", "Auto-Submitted: auto-generated"),
        ),
        (
            ("From: Intake <noreply@lgo.org.uk.evil.example>", "Auto-Submitted: auto-generated"),
            AutomaticVerdict("auto_reply", "Auto-Submitted: auto-generated"),
        ),
        (("Precedence: bulk",), AutomaticVerdict("list", "Precedence: bulk")),  # newsletters, circulars
        (("Precedence: junk",), AutomaticVerdict("auto_reply", "Precedence: junk")),
        (("Precedence: auto_reply",), AutomaticVerdict("auto_reply", "Precedence: auto_reply")),
        (("Precedence: list",), AutomaticVerdict("list", "Precedence: list")),
        (("X-Autoreply: yes",), AutomaticVerdict("auto_reply", "X-Autoreply: yes")),
        (("X-Autorespond: Out of office",), AutomaticVerdict("auto_reply", "X-Autorespond: out")),
        (
            ("X-MS-Exchange-Generated-Message-Source: Mailbox Rules Agent",),
            AutomaticVerdict("auto_reply", "X-MS-Exchange-Generated-Message-Source: Mailbox Rules Agent"),
        ),
        (
            ("X-MS-Exchange-Organization-AutoReply: true",),
            AutomaticVerdict("auto_reply", "X-MS-Exchange-Organization-AutoReply: true"),
        ),
        (
            ("X-Auto-Response-Suppress: All", "X-MS-Exchange-Inbox-Rules-Loop: ret@northmere.gov.uk"),
            AutomaticVerdict("auto_reply", "X-Auto-Response-Suppress with X-MS-Exchange-Inbox-Rules-Loop"),
        ),
        (
            ("X-Auto-Response-Suppress: All", "Subject: Automatic reply: Complaint 24 012 345"),
            AutomaticVerdict("auto_reply", "X-Auto-Response-Suppress with subject 'automatic reply:'"),
        ),
        (
            ("X-Auto-Response-Suppress: DR, RN, NRN, OOF, AutoReply", "Subject: Out of Office until Monday"),
            AutomaticVerdict("auto_reply", "X-Auto-Response-Suppress with subject 'out of office'"),
        ),
        (
            ("X-Auto-Response-Suppress: All", "Subject: Auto: Complaint 24 012 345"),
            AutomaticVerdict("auto_reply", "X-Auto-Response-Suppress with subject 'auto:'"),
        ),
        (("List-Id: LGSCO news <news.lgo.org.uk>",), AutomaticVerdict("list", "List-Id: LGSCO news")),
        (
            ("List-Unsubscribe: <mailto:u+123@lists.example>",),
            AutomaticVerdict("list", "List-Unsubscribe header"),
        ),
        (
            ("List-Id: <news.lgo.org.uk>", "Precedence: bulk"),
            AutomaticVerdict("list", "List-Id: <news.lgo.org.uk>"),
        ),
        (
            ("From: MAILER-DAEMON@mx.northmere.gov.uk", "Subject: Undeliverable: Information request"),
            AutomaticVerdict("bounce", "From: MAILER-DAEMON with subject 'undeliverable:'"),
        ),
        (
            (
                "From: Mail Delivery Subsystem <postmaster@googlemail.com>",
                "Subject: Delivery Status Notification (Failure)",
            ),
            AutomaticVerdict("bounce", "From: postmaster with subject 'delivery status notification'"),
        ),
    ],
)
def test_automatic_mail_is_recognised(headers: tuple[str, ...], expected: AutomaticVerdict) -> None:
    message = (
        mail(*headers) if any(h.startswith("From:") for h in headers) else mail("From: a@x.example", *headers)
    )
    verdict = detect_automatic(message, DEFAULT_OMBUDSMAN_DOMAINS)
    assert verdict is not None
    assert verdict.kind == expected.kind
    assert verdict.evidence.startswith(expected.evidence)


def test_a_delivery_status_report_is_a_bounce() -> None:
    assert detect_automatic(parse(DSN.encode())) == AutomaticVerdict(
        "bounce", "multipart/report; report-type=delivery-status"
    )


def test_a_disposition_notification_report_is_a_read_receipt() -> None:
    raw = (
        "From: Jane <jane@x.example>\r\nSubject: Read: Complaint 24 012 345\r\n"
        'Content-Type: multipart/report; report-type="disposition-notification"; boundary="b2"\r\n\r\n'
        + MDN_PART
    )
    assert detect_automatic(parse(raw.encode())) == AutomaticVerdict(
        "read_receipt", "multipart/report; report-type=disposition-notification"
    )


def test_read_subject_with_an_mdn_part_is_a_read_receipt() -> None:
    raw = (
        "From: Jane <jane@x.example>\r\nSubject: Read: Complaint 24 012 345\r\n"
        'Content-Type: multipart/mixed; boundary="b2"\r\n\r\n' + MDN_PART
    )
    verdict = detect_automatic(parse(raw.encode()))
    assert verdict is not None
    assert verdict.kind == "read_receipt"


def test_read_subject_alone_is_human_mail() -> None:
    assert detect_automatic(mail("From: a@x.example", "Subject: Read: the attached letter")) is None


def test_mailer_daemon_without_a_bounce_subject_is_not_assumed_a_bounce() -> None:
    assert (
        detect_automatic(mail("From: postmaster@northmere.gov.uk", "Subject: Mailbox quota policy")) is None
    )


def test_human_reply_marked_not_automatic_is_ordinary_mail() -> None:
    message = mail(
        "From: Jane <jane@northmere.gov.uk>", "Subject: Re: Complaint 24 012 345", "Auto-Submitted: no"
    )
    assert detect_automatic(message) is None


def test_ordinary_outlook_mail_with_only_auto_response_suppress_is_not_automatic() -> None:
    message = mail(
        "From: Intake Team <intake@lgo.org.uk>",
        "Subject: Complaint 24 012 345: request for information",
        "X-Auto-Response-Suppress: All",
        "Thread-Index: AQHaZ1x2",
        "X-MS-Has-Attach: yes",
        "X-MS-TNEF-Correlator:",
    )
    assert detect_automatic(message) is None


def test_ordinary_ombudsman_letter_is_not_automatic() -> None:
    assert detect_automatic(mail(council(), LGSCO_FROM, "Subject: Final decision 24 012 345")) is None


# --- nothing raises, whatever arrives ---------------------------------------------------------

HEADER_NAMES = [
    b"From",
    b"Authentication-Results",
    b"ARC-Authentication-Results",
    b"Subject",
    b"Content-Type",
    b"Auto-Submitted",
    b"Precedence",
    b"List-Id",
    b"X-Auto-Response-Suppress",
    b"X-Autoreply",
]
HEADER_VALUES = st.one_of(
    st.binary(max_size=120),
    st.text(max_size=80).map(lambda text: text.encode("utf-8", "surrogatepass")),
    st.sampled_from(
        [
            b"mx.northmere.gov.uk; dmarc=pass header.from=lgo.org.uk",
            b"Intake <intake@lgo.org.uk>",
            b"multipart/report; report-type=delivery-status; boundary=x",
            b"=?utf-8?q?Housing_Ombudsman?= <a@xn--lg-gmc.org.uk>",
            b'((("\\',
        ]
    ),
)


def _both(message: Message) -> None:
    verdict = assess_sender(message, SETTINGS)
    if verdict.trusted:
        assert verdict.ombudsman is not None
        assert not verdict.spoof_suspected
    detect_automatic(message)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(HEADER_NAMES), HEADER_VALUES), max_size=8), st.binary(max_size=200))
def test_arbitrary_header_values_never_raise(headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    raw = b"".join(name + b": " + value + b"\r\n" for name, value in headers) + b"\r\n" + body
    _both(parse(raw))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600))
def test_arbitrary_bytes_never_raise(raw: bytes) -> None:
    _both(parse(raw))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(HEADER_NAMES), HEADER_VALUES), max_size=8))
def test_nothing_is_trusted_without_the_councils_gateway(headers: list[tuple[bytes, bytes]]) -> None:
    raw = b"".join(name + b": " + value + b"\r\n" for name, value in headers) + b"\r\n"
    if b"northmere" not in raw.lower():
        assert not assess_sender(parse(raw), SETTINGS).trusted


def _reference_lex(text: str) -> list[tuple[str, str]]:
    """The lexer as first written, one character at a time: the oracle for the fast one."""
    tokens: list[tuple[str, str]] = []
    word: list[str] = []
    index, length = 0, len(text)
    while index < length:
        char = text[index]
        if not (char in '()";=' or char.isspace()):
            word.append(char)
            index += 1
            continue
        if word:
            tokens.append(("word", "".join(word)))
            word = []
        if char == "(":
            depth = 0
            while index < length:
                if text[index] == "\\":
                    index += 2
                    continue
                if text[index] == "(":
                    depth += 1
                elif text[index] == ")":
                    depth -= 1
                    if depth == 0:
                        index += 1
                        break
                index += 1
        elif char == '"':
            content: list[str] = []
            index += 1
            while index < length:
                if text[index] == "\\" and index + 1 < length:
                    content.append(text[index + 1])
                    index += 2
                    continue
                if text[index] == '"':
                    index += 1
                    break
                content.append(text[index])
                index += 1
            tokens.append(("quoted", "".join(content)))
        else:
            if char in ";=":
                tokens.append((char, char))
            index += 1
    if word:
        tokens.append(("word", "".join(word)))
    return tokens


@settings(max_examples=3000, deadline=None)
@given(st.text(alphabet=st.sampled_from(list('ab =;()"\\\t\n\u00a0\u2003x.@-')), max_size=40))
def test_the_fast_lexer_reads_exactly_what_the_character_lexer_reads(text: str) -> None:
    assert _lex(text) == _reference_lex(text)


@settings(max_examples=3000, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab =;()\t\n\u00a0\u2003x.@-")), max_size=40))
def test_text_without_quotes_or_escapes_lexes_as_the_character_lexer_reads_it(text: str) -> None:
    # The common case, read in one pass with the comments cut out.
    assert _lex(text) == _reference_lex(text)


@pytest.mark.parametrize(
    "value",
    [
        "mx.northmere.gov.uk; spf=pass (sender IP is 192.0.2.1) smtp.mailfrom=lgo.org.uk; "
        "dkim=pass (signature was verified) header.d=lgo.org.uk; dmarc=pass (p=quarantine; dis=none) "
        "action=none header.from=lgo.org.uk",
        "mx.northmere.gov.uk; dmarc=pass (a (nested) comment) header.from=lgo.org.uk (unclosed",
    ],
)
def test_the_lexer_reads_real_headers_without_quotes(value: str) -> None:
    assert _lex(value) == _reference_lex(value)
    assert ("word", "header.from") in _lex(value)


def test_the_lexer_reads_a_real_authentication_results_header() -> None:
    value = (
        "mx.northmere.gov.uk; spf=pass (sender IP is 192.0.2.1) smtp.mailfrom=lgo.org.uk; "
        'dmarc=pass (p=quarantine; dis=none) header.from="lgo.org.uk"'
    )
    assert _lex(value) == _reference_lex(value)
    assert ("quoted", "lgo.org.uk") in _lex(value)


@settings(max_examples=3000, deadline=None)
@given(st.text(alphabet=st.sampled_from(list('ab <>@.:;,"()\\\t')), max_size=30))
def test_the_plain_mailbox_shortcut_reads_what_the_full_reader_reads(value: str) -> None:
    easy = _PLAIN_MAILBOX.fullmatch(value)
    if easy is not None:
        plain, angle, tail = easy.groups()
        assert _chunks(value) == [(plain + (tail or ""), [], [] if angle is None else [angle])]


_TYPE_PIECES = st.sampled_from(
    [
        "multipart/",
        "message/",
        "report",
        "Report",
        "delivery-status",
        "disposition-notification",
        "\\",
        '"',
        "(",
        ")",
        ";",
        " ",
        "report-type=",
        "mixed",
        "re",
        "port",
        "\t",
    ]
)


@settings(max_examples=2000, deadline=None)
@given(st.lists(_TYPE_PIECES, max_size=10).map("".join))
def test_a_content_type_is_only_lexed_for_bounces_when_it_can_name_a_report(value: str) -> None:
    content_type, params = _content_type(value)
    if content_type in ("multipart/report", "message/delivery-status", _MDN) or params.get("report-type"):
        assert any(hint in value.lower().replace("\\", "") for hint in _REPORT_HINTS)


def _every_check(message: Message) -> AutomaticVerdict | None:
    """detect_automatic without passing over checks whose headers are missing."""
    return next((v for check, _ in _AUTOMATIC_CHECKS if (v := check(message)) is not None), None)


# Every header the automatic checks read, written out here so that a check's list missing one shows.
_AUTOMATIC_NAMES = [
    "auto-submitted",
    "x-autoreply",
    "x-autorespond",
    "x-ms-exchange-generated-message-source",
    "x-ms-exchange-organization-autoreply",
    "x-auto-response-suppress",
    "x-ms-exchange-inbox-rules-loop",
    "list-id",
    "list-unsubscribe",
    "precedence",
]


@settings(max_examples=1000, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from([*_AUTOMATIC_NAMES, "subject", "from", "content-type", "x-other"]),
            st.sampled_from(["", "no", "yes", "auto-replied", "bulk", "junk", "list", "All", "<a.example>",
                             "Automatic reply: away", "postmaster@x.example", "multipart/report"]),
        ),
        max_size=5,
    )
)  # fmt: skip
def test_passing_over_checks_without_their_headers_changes_no_verdict(fields: list[tuple[str, str]]) -> None:
    message = mail(*(f"{name}: {value}" for name, value in fields))
    assert detect_automatic(message) == _every_check(message)
