"""Who wrote a message bounds what it can be: only the Ombudsman sends the Ombudsman's kinds."""

from __future__ import annotations

from inboxbot.adapters.rulefiles import load_rules
from inboxbot.domain.classify import ClassifySettings, classify
from inboxbot.domain.kinds import MessageKind
from inboxbot.domain.mailtext import parse
from inboxbot.resources import rules_dir

SETTINGS = ClassifySettings.build(load_rules(rules_dir()), authserv_ids=frozenset({"mx.northmere.gov.uk"}))
REQUEST = (
    "Thank you for your response. Please send the following within 15 working days: the repair log and the "
    "stage 2 response."
)


def judged(sender: str, body: str, subject: str = "Complaint 26 003 472 - CAS-2203371") -> MessageKind:
    raw = (
        f"From: {sender}\nTo: ombudsman@northmere.gov.uk\nSubject: {subject}\n"
        f"Date: Tue, 03 Feb 2026 10:00:00 +0000\n\n{body}\n"
    )
    return classify(parse(raw.encode()), SETTINGS).kind


def test_a_request_in_the_ombudsmans_words_from_the_ombudsman_is_a_request() -> None:
    assert judged("Investigator <jo.smith@lgo.org.uk>", REQUEST) is MessageKind.INFORMATION_REQUEST


def test_the_same_words_from_an_officer_mp_or_resident_are_for_a_person_to_read() -> None:
    for sender in (
        "Adult Social Care <asc.complaints@northmere.gov.uk>",
        "Office of Jo Bloggs MP <jo.bloggs.mp@parliament.uk>",
        "A Resident <a.resident@gmail.com>",
    ):
        raw = (
            f"From: {sender}\nTo: ombudsman@northmere.gov.uk\nSubject: 26 003 472\n"
            f"Date: Tue, 03 Feb 2026 10:00:00 +0000\n\n{REQUEST}\n"
        )
        result = classify(parse(raw.encode()), SETTINGS)
        assert result.kind is MessageKind.UNKNOWN, sender
        assert "reads it as information_request, but the Ombudsman did not write it" in result.evidence


def test_an_officers_forward_of_the_ombudsmans_request_is_the_request() -> None:
    body = (
        "FYI - this came to me directly.\n\n---------- Forwarded message ---------\n"
        "From: Investigator <jo.smith@lgo.org.uk>\nDate: Tue, 3 Feb 2026 at 09:12\n"
        f"Subject: Complaint 26 003 472\nTo: <asc.complaints@northmere.gov.uk>\n\n{REQUEST}\n"
    )
    kind = judged("Adult Social Care <asc.complaints@northmere.gov.uk>", body)
    assert kind is MessageKind.INFORMATION_REQUEST


def test_a_spoof_keeps_the_kind_it_claims_and_is_untrusted_for_that() -> None:
    assert judged('"Local Government Ombudsman" <lgo.casework@gmail.com>', REQUEST) is (
        MessageKind.INFORMATION_REQUEST
    )


def test_a_bounce_links_to_the_case_its_returned_message_names_only_in_its_subject() -> None:
    raw = (
        "From: Mail Delivery System <MAILER-DAEMON@mx.northmere.gov.uk>\nTo: ombudsman@northmere.gov.uk\n"
        "Subject: Undelivered Mail Returned to Sender\nDate: Fri, 26 Feb 2027 09:02:40 +0000\n"
        'MIME-Version: 1.0\nContent-Type: multipart/report; report-type=delivery-status; boundary="b"\n\n'
        "--b\nContent-Type: text/plain\n\nYour message could not be delivered.\n"
        "--b\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.northmere.gov.uk\n\n"
        "Final-Recipient: rfc822; c.dyer@lgo.org.ku\nAction: failed\nStatus: 5.4.4\n\n"
        "--b\nContent-Type: message/rfc822\n\nFrom: Ombudsman Mailbox <ombudsman@northmere.gov.uk>\n"
        "To: c.dyer@lgo.org.ku\nSubject: 27 001 102 - Council response - CAS-2210456\n\n"
        "Please find attached the council's response.\n--b--\n"
    )
    result = classify(parse(raw.encode()), SETTINGS)
    assert result.kind is MessageKind.AUTO_REPLY
    assert result.council_ref == "CAS-2210456"


def test_a_reference_in_older_mail_quoted_below_the_signature_still_counts() -> None:
    body = (
        "Thanks Janet, received.\n\nSent from my iPhone\n\n\n\nDear Mr Asante\n\nPlease find attached the "
        "Council's response (your ref 26 011 093, our ref CAS-3397641).\n"
    )
    raw = (
        "From: Kwame Asante <k.asante@lgo.org.uk>\nTo: ombudsman@northmere.gov.uk\nSubject: RE: 26 011 093\n"
        f"Date: Tue, 03 Nov 2026 10:00:00 +0000\n\n{body}"
    )
    assert classify(parse(raw.encode()), SETTINGS).council_ref == "CAS-3397641"
