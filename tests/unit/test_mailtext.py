"""Reading the newest part of a message: quotes, forwards, signatures, HTML, charsets."""

from __future__ import annotations

import email
import email.policy
import re
from email.message import EmailMessage
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inboxbot.domain import mailtext
from inboxbot.domain.mailtext import (
    _DISCLAIMER,
    _as_sent,
    _first_quoted_line,
    html_to_text,
    parse,
    split_body,
    split_subject,
    unflow,
)
from inboxbot.domain.mimeparse import message_from_bytes

_ROOT = Path(__file__).parents[2]
_MAIL = sorted(
    [*(_ROOT / "tests" / "corpus").glob("*.eml"), *(_ROOT / "inboxbot" / "demo" / "mailbox").rglob("*.eml")]
)


def test_reply_quotes_are_not_the_newest_part() -> None:
    body = (
        "We have still not received the information.\n\n"
        "On Mon, 2 Mar 2026 at 09:15, Intake Team <intake@lgo.org.uk> wrote:\n"
        "> We have received a complaint from Mrs Patel.\n"
    )
    newest, forwarded, quoted, _ = split_body(body, is_forward=False)
    assert newest == "We have still not received the information."
    assert forwarded == []
    assert "received a complaint" in quoted


def _outlook_header(sender: str, sent: str, to: str, subject: str) -> str:
    """The header block Outlook puts above a message it quotes or forwards."""
    return f"From: {sender}\nSent: {sent}\nTo: {to}\nSubject: {subject}\n\n"


@pytest.mark.parametrize(
    "marker",
    ["________________________________", "-----Original Message-----"],
)
def test_an_outlook_header_block_starts_the_history_and_stays_in_it(marker: str) -> None:
    body = (
        "Please confirm which option the Council will agree to by 22 September.\n\n"
        f"{marker}\n"
        + _outlook_header(
            "Resident Experience Team <ombudsman@northmere.gov.uk>",
            "01 September 2026 15:47",
            "Daniel Roe <daniel.roe@lgo.org.uk>",
            "26 003 871 - remedy options - CAS-241556",
        )
        + "Dear Mr Roe, Adult Social Care have suggested two remedies.\n"
    )
    newest, forwarded, quoted, _ = split_body(body, is_forward=False)
    assert newest == "Please confirm which option the Council will agree to by 22 September."
    assert forwarded == []
    # The quoted message's header lines are history too: its Subject may hold the only council reference.
    assert "Subject: 26 003 871 - remedy options - CAS-241556" in quoted
    assert "two remedies" in quoted


def test_a_forward_keeps_the_forwarded_message_as_content() -> None:
    body = (
        "FYI - see below.\n\n"
        "---------- Forwarded message ---------\n"
        "From: Intake Team <intake@lgo.org.uk>\n"
        "Date: Mon, 2 Mar 2026 at 09:15\n"
        "Subject: New complaint 25 004 217\n"
        "To: <someone@northmere.gov.uk>\n\n"
        "We have received a complaint from Mrs Patel.\n\n"
        "Kind regards\nIntake Team\n"
    )
    newest, forwarded, _, _ = split_body(body, is_forward=True)
    assert newest == "FYI - see below."
    assert len(forwarded) == 1
    assert forwarded[0].sender == "Intake Team <intake@lgo.org.uk>"
    assert forwarded[0].text == "We have received a complaint from Mrs Patel."


def test_signature_and_disclaimer_are_cut() -> None:
    body = (
        "Please provide the file by 14 April 2026.\n\nKind regards\nJane\nTel 0300 061 0614\n\n"
        "This email and any files transmitted with it are confidential and intended solely for the addressee."
    )
    newest, _, _, signature = split_body(body, is_forward=False)
    assert newest == "Please provide the file by 14 April 2026."
    assert "0300 061 0614" in signature


DECISION_BELOW = "\n\n".join(
    f"{n}. The Council delayed the review at stage {n}; that was fault, and it caused Ms B distress." * 3
    for n in range(1, 8)
)


def test_a_letter_below_the_signature_is_read() -> None:
    """The Ombudsmen sign a covering note and put the decision under it: that is not signature."""
    body = (
        "Please find below the Ombudsman's final decision.\n\nYours faithfully,\n\nHannah Okafor\n"
        "Investigator\nTelephone: 0300 061 0614\n\n"
        + "-" * 60
        + "\n\nFinal decision\n\n"
        + DECISION_BELOW
        + "\n\nKind regards\nHannah Okafor"
    )
    newest, _, _, signature = split_body(body, is_forward=False)
    assert newest.startswith("Please find below the Ombudsman's final decision.\n\nFinal decision")
    assert newest.endswith("caused Ms B distress.")
    assert "0300 061 0614" in signature
    assert "Hannah Okafor" not in newest


@pytest.mark.parametrize(
    "below",
    [
        "Our offices are closed on bank holidays.",  # a short note: signature
        "This email and any attachments are confidential.\n\n" + DECISION_BELOW,  # a disclaimer first
    ],
)
def test_only_a_long_letter_below_the_signature_is_read(below: str) -> None:
    body = f"Please send the file by 14 April 2026.\n\nKind regards\nJane\nTel 0300 061 0614\n\n{below}"
    newest, _, _, _ = split_body(body, is_forward=False)
    assert newest == "Please send the file by 14 April 2026."


def test_without_a_covering_note_saying_so_a_long_text_below_the_signature_is_not_read() -> None:
    body = (
        f"Please send the file by 14 April 2026.\n\nKind regards\nJane\nTel 0300 061 0614\n\n{DECISION_BELOW}"
    )
    newest, _, _, signature = split_body(body, is_forward=False)
    assert newest == "Please send the file by 14 April 2026."
    assert signature.endswith("caused Ms B distress.")


@pytest.mark.parametrize(
    "notice",
    [
        "How we handle your data\n\nWe respond to subject access requests within one calendar month.",
        "About the Council Portal\nTime limits in our letters (often 10 or 20 working days) are there.",
        "Nothing in this message should travel further than the people it was written for.",
        "Privacy notice: requests under the Freedom of Information Act are answered within 20 working days.",
    ],
)
def test_a_data_or_privacy_notice_is_not_the_message(notice: str) -> None:
    newest, _, _, signature = split_body(
        f"Please sign in to the Portal to read it.\n\n{notice}", is_forward=False
    )
    assert newest == "Please sign in to the Portal to read it."
    assert signature == notice


def test_html_only_body_is_read() -> None:
    text = html_to_text(
        "<html><head><style>p{color:red}</style></head><body><p>We have received a complaint&nbsp;from "
        "Mr O&#8217;Connor.</p><table><tr><td>Ref</td><td>25 004 217</td></tr></table></body></html>"
    )
    assert "We have received a complaint from Mr O\u2019Connor." in text
    assert "Ref 25 004 217" in text
    assert "color" not in text


@given(st.text(st.sampled_from([" ", "\t", "\u00a0", "a", "\n"]), max_size=30))
def test_runs_of_blanks_become_one_space(text: str) -> None:
    assert mailtext._one_space(text) == re.sub(r"[ \t\u00a0]+", " ", text)


_SOURCE_PIECES = st.sampled_from(["a", " ", "\t", "\u00a0", "\n", "\r\n", "&nbsp;"])


@given(st.lists(_SOURCE_PIECES, max_size=40).map("".join))
def test_html_source_line_breaks_and_their_blanks_read_as_one_space(source: str) -> None:
    assert mailtext.html_to_text(source) == " ".join(source.replace("&nbsp;", " ").split())


def _alternative(plain: str) -> bytes:
    return (
        "Subject: s\nContent-Type: multipart/alternative; boundary=b\n\n--b\nContent-Type: text/plain\n\n"
        f"{plain}\n--b\nContent-Type: text/html\n\n<p>From the <b>HTML</b> part.</p>\n--b--\n"
    ).encode()


def test_the_html_alternative_is_read_only_when_the_plain_text_is_empty(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert parse(_alternative(" \n")).body == "From the HTML part."
    monkeypatch.setattr(mailtext, "html_to_text", lambda markup: pytest.fail("the HTML was read"))
    assert parse(_alternative("From the plain part.")).body == "From the plain part."


def test_subject_prefixes() -> None:
    assert split_subject("RE: FW: Final decision") == ("re", "Final decision")
    assert split_subject("Fwd: New complaint") == ("fw", "New complaint")
    assert split_subject("Final decision") == ("", "Final decision")


def test_windows_1252_declared_as_latin_1_keeps_its_quotes() -> None:
    message = EmailMessage()
    message["Subject"] = "Council\u2019s response"
    message["From"] = "a@lgo.org.uk"
    message.set_content("The council\u2019s payment of \u00a3300 is due.".encode("cp1252"), "text", "plain")
    message.replace_header("Content-Type", 'text/plain; charset="iso-8859-1"')
    parsed = parse(message.as_bytes())
    assert "council\u2019s payment of \u00a3300" in parsed.newest


def test_attached_message_is_a_forwarded_part() -> None:
    inner = EmailMessage()
    inner["From"] = "Casework <casework@housing-ombudsman.org.uk>"
    inner["Subject"] = "Determination 202512345"
    inner.set_content("The landlord must pay £600 within four weeks.")
    outer = EmailMessage()
    outer["From"] = "Officer <officer@northmere.gov.uk>"
    outer["Subject"] = "FW: Determination 202512345"
    outer.set_content("Forwarding the determination.")
    outer.add_attachment(inner)
    parsed = parse(outer.as_bytes())
    assert parsed.forwarded[0].subject == "Determination 202512345"
    assert "within four weeks" in parsed.body


@settings(max_examples=200)
@given(st.binary(max_size=2000))
def test_any_bytes_parse_without_raising(raw: bytes) -> None:
    parsed = parse(raw)
    assert isinstance(parsed.body, str)


@settings(max_examples=200)
@given(
    st.lists(
        st.sampled_from(
            [
                b"Content-Type: multipart/mixed; boundary=x\r\n",
                b"Content-Type: text/html; charset=unknown-8bit\r\n",
                b"Content-Transfer-Encoding: base64\r\n",
                b"Content-Transfer-Encoding: quoted-printable\r\n",
                b"Content-Type: message/rfc822\r\n",
                b"Subject: =?utf-8?b?broken?=\r\n",
                b'From: "unbalanced <a@b\r\n',
                b"Date: 32 Foo 2026 99:99\r\n",
                b"\r\n",
                b"--x\r\n",
                b"--x--\r\n",
                b"=E2=80=99 abc=\r\n",
                b"PGh0bWw+\r\n",
                b"%PDF-1.4 garbage\r\n",
                b"<html><body><p>text</p>\r\n",
            ]
        ),
        max_size=30,
    )
)
def test_malformed_mime_parses_without_raising(lines: list[bytes]) -> None:
    parsed = parse(b"".join(lines))
    assert isinstance(parsed.subject, str)
    assert email.message_from_bytes(b"".join(lines), policy=email.policy.default) is not None


@settings(max_examples=300)
@given(st.text(alphabet=">\n\r a", max_size=20))
def test_first_quoted_line_is_where_a_regex_finds_it(text: str) -> None:
    regex = re.search(r"^>", text, re.MULTILINE)
    assert _first_quoted_line(text) == (regex.start() if regex else -1)


# The disclaimer pattern as it was written with greedy repeats, before they were made lazy.
_GREEDY_DISCLAIMER = re.compile(
    r"^[ \t]*(?:this (?:e-?mail|message|communication)(?: and any (?:files|attachments)[^\n]*)?"
    r" (?:is|are|may be|and any)\b[^\n]*(?:confidential|intended|privileged)"
    r"|the information (?:in|contained in) this (?:e-?mail|message)"
    r"|(?:email )?disclaimer\b|confidentiality notice|please consider the environment"
    r"|if you (?:are not|have received this)[^\n]*(?:intended recipient|in error))",
    re.IGNORECASE | re.MULTILINE,
)
_DISCLAIMER_WORDS = st.sampled_from(
    [
        "This email", "this message", " and any files", " and any attachments", " transmitted", " are",
        " is", " may be", " and any", " confidential", " Intended", " privileged", " for", "\n", " ",
    ]
)  # fmt: skip


@settings(max_examples=500)
@given(st.lists(_DISCLAIMER_WORDS, max_size=16))
def test_a_disclaimer_starts_where_the_greedy_pattern_finds_it(words: list[str]) -> None:
    text = "Please reply by Friday.\n" + "".join(words)
    greedy = _GREEDY_DISCLAIMER.search(text)
    found = _DISCLAIMER.search(text)
    assert (found and found.start()) == (greedy and greedy.start())


def _parts_bytes_agree(raw: bytes) -> None:
    for part in message_from_bytes(raw).walk():
        sent = _as_sent(part)
        assert sent is None or sent == part.get_payload(decode=True)


@pytest.mark.parametrize("path", _MAIL, ids=lambda p: p.name)
def test_a_part_sent_as_is_reads_as_the_email_package_decodes_it(path: Path) -> None:
    _parts_bytes_agree(path.read_bytes())


@settings(max_examples=300)
@given(
    st.sampled_from(
        ["", "7bit", "8BIT", "binary", "base64", " base64", "Quoted-Printable", "x-uue", "bogus"]
    ),
    st.binary(max_size=200),
)
def test_any_transfer_encoding_reads_as_the_email_package_decodes_it(encoding: str, body: bytes) -> None:
    head = b"Content-Type: text/plain\r\n" + (
        f"Content-Transfer-Encoding: {encoding}\r\n".encode() if encoding else b""
    )
    _parts_bytes_agree(head + b"\r\n" + body)
    # Blanks after the colon are not part of a header's value; any other spelling is not decoded.
    decoded = encoding.lstrip().lower() in ("base64", "quoted-printable", "x-uue")
    assert _as_sent(message_from_bytes(head + b"\r\nplain")) == (None if decoded else b"plain")


def test_html_source_line_breaks_are_spaces() -> None:
    markup = "<p>our reference 26&nbsp;019\n604. Thank you.</p><p>Please now send us:</p>"
    assert html_to_text(markup) == "our reference 26 019 604. Thank you.\n\nPlease now send us:"


def test_preformatted_html_keeps_its_lines() -> None:
    assert html_to_text("<pre>line one\nline two</pre>") == "line one\nline two"
    assert html_to_text("<PRE>line one\nline two</PRE>") == "line one\nline two"


@pytest.mark.parametrize(
    ("flowed", "delsp", "plain"),
    [
        (
            "our reference 26 014 \n227, your reference CAS-1208836.\n",
            False,
            "our reference 26 014 227, your reference CAS-1208836.\n",
        ),
        ("one word \nsplit\n", True, "one wordsplit\n"),
        ("> quoted and \n> joined\nnew line\n", False, "> quoted and joined\nnew line\n"),
        ("soft \n> not the same depth\n", False, "soft \n> not the same depth\n"),
        ("Kind regards\n-- \nJane\n", False, "Kind regards\n-- \nJane\n"),
        ("  stuffed line\n", False, " stuffed line\n"),
    ],
)
def test_format_flowed_soft_breaks_are_joined(flowed: str, delsp: bool, plain: str) -> None:
    assert unflow(flowed, delsp=delsp) == plain


def test_a_flowed_message_keeps_a_reference_broken_across_lines() -> None:
    raw = (
        b"From: Investigator <investigator@lgo.org.uk>\nTo: ombudsman@northmere.gov.uk\n"
        b"Subject: Further enquiries\nDate: Mon, 2 Mar 2026 09:00:00 +0000\n"
        b'Content-Type: text/plain; charset="us-ascii"; format=flowed; delsp=no\n\n'
        b"Thank you for the Council's response about Mr Delaney's complaint (our reference 26 014 \n"
        b"227). Please send the care plan by 27 March 2026.\n"
    )
    assert "our reference 26 014 227)" in parse(raw).newest


def test_a_forward_of_a_forward_keeps_the_ombudsman_message_as_forwarded() -> None:
    body = (
        "Logging for the register please.\n\n"
        + _outlook_header(
            "Dan Ferris <d.ferris@northmere.gov.uk>",
            "30 January 2026 10:02",
            "Lisa Brennan <l.brennan@northmere.gov.uk>",
            "FW: Final decision: complaint 25 016 270",
        )
        + "Lisa - this came to me. Can you make sure RET have it?\n\n"
        + _outlook_header(
            "Marcus Lindqvist <m.lindqvist@lgo.org.uk>",
            "30 January 2026 09:14",
            "Dan Ferris <d.ferris@northmere.gov.uk>",
            "Final decision: complaint 25 016 270",
        )
        + "The Council should apologise within one month of this decision.\n"
    )
    newest, forwarded, quoted, _ = split_body(body, is_forward=True)
    assert newest == "Logging for the register please."
    assert [part.sender for part in forwarded] == [
        "Dan Ferris <d.ferris@northmere.gov.uk>",
        "Marcus Lindqvist <m.lindqvist@lgo.org.uk>",
    ]
    assert forwarded[1].text == "The Council should apologise within one month of this decision."
    assert quoted == ""


def test_answers_written_between_the_quoted_questions_are_the_newest_part() -> None:
    body = (
        "Thanks for your questions. My answers are below each one.\n\n"
        "On 06/10/2026 14:32, Sam Whitlow wrote:\n"
        "> 1. We think we can send the care plans by 22 October. Is that acceptable?\n\n"
        "Yes, that's fine. Please send the care plans by 22 October.\n\n"
        "> 2. Do you need the financial assessment as well?\n\n"
        "Yes please - I do need the financial assessment.\n"
        "> Kind regards\n> Sam Whitlow\n\n"
        "Best wishes\nNiamh\n"
    )
    newest, forwarded, quoted, _ = split_body(body, is_forward=False)
    assert newest == (
        "Thanks for your questions. My answers are below each one.\n\n"
        "Yes, that's fine. Please send the care plans by 22 October.\n\n"
        "Yes please - I do need the financial assessment."
    )
    assert forwarded == []
    assert "> 2. Do you need the financial assessment as well?" in quoted


def test_a_reply_above_the_quote_gains_nothing_from_it() -> None:
    body = "Thank you, received.\n\nOn Mon, 2 Mar 2026, Jo wrote:\n> Please find the evidence.\n> Jo\n"
    newest, _, quoted, _ = split_body(body, is_forward=False)
    assert newest == "Thank you, received."
    assert quoted.endswith("> Jo")
