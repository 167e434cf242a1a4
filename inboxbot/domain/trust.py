"""Whether a message really comes from an Ombudsman, and whether a machine sent it.

Two pure decisions on an already-parsed message:

* ``assess_sender``: only mail whose Authentication-Results, stamped by the council's own gateway,
  show DMARC pass for an Ombudsman domain that is also the From: domain is trusted. Trusted mail may
  raise escalations and close cases; everything else is evidence for RET, and lookalike or spoofed
  senders are flagged so they go to triage.
* ``detect_automatic``: auto-replies, bounces, read receipts and list mail, which the bot must never
  answer (the "no loops" rule).

Why the Authentication-Results parsing is so careful: anyone can add an ``Authentication-Results``
header saying ``dmarc=pass`` before the message reaches the council. RFC 8601 section 5 makes the
receiving gateway remove (or rename) incoming headers that carry its own authserv-id, so only
headers carrying one of the council's authserv-ids are evidence; every other one is ignored. That
assumption is on the deployment: the gateway named in ``TrustSettings.authserv_ids`` must strip
forged copies of its own header.

Header values are read raw (not through the policy's decoding) for two reasons: RFC 2047 decoding
would let an attacker write the council's authserv-id as an encoded word that the gateway does not
recognise as its own but the policy would decode into it; and the policy's address parser reads
``intake@lgo.org.uk <evil@x.com>`` as intake@lgo.org.uk, while a DMARC gateway and a mail client
read evil@x.com.

Pure: no I/O, no DNS, no clock. A malformed header gives a cautious answer, never an exception.
"""

from __future__ import annotations

import email.header
import functools
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from email.message import Message
from types import MappingProxyType
from typing import Literal

from inboxbot.domain import headers
from inboxbot.domain.kinds import Ombudsman

DEFAULT_OMBUDSMAN_DOMAINS: Mapping[str, Ombudsman] = MappingProxyType(
    {"lgo.org.uk": Ombudsman.LGSCO, "housing-ombudsman.org.uk": Ombudsman.HOS}
)


@dataclass(frozen=True)
class TrustSettings:
    """What the council's mail setup looks like.

    ``authserv_ids``: the authserv-ids its own gateway(s) put in Authentication-Results, compared
    case-insensitively (e.g. ``{"mx.northmere.gov.uk"}``). Microsoft 365 stamps its header with no
    authserv-id at all; such headers count only when this set contains the empty string ``""``.
    Only add ``""`` when the mailbox is in Exchange Online and nothing upstream can leave a header
    without an authserv-id in place, because an attacker's header without one would count too.

    ``ombudsman_domains``: each Ombudsman's domain; its subdomains are the same organisation.

    ``council_domains``: the council's own mail domains (e.g. ``{"northmere.gov.uk"}``). Mail from
    them (internal, or an Ombudsman message forwarded by staff) is untrusted but never treated as
    spoofing, even when its display name mentions the Ombudsman ("Ombudsman Team").
    """

    authserv_ids: frozenset[str]
    ombudsman_domains: Mapping[str, Ombudsman]
    council_domains: frozenset[str] = frozenset()


@dataclass(frozen=True)
class SenderVerdict:
    """Whether the sender is a verified Ombudsman, and the evidence for the decision.

    ``ombudsman`` is the verified Ombudsman when ``trusted``; otherwise the Ombudsman the message
    claims (or imitates) to be from, or None. ``reason`` is plain English for RET.
    """

    trusted: bool
    ombudsman: Ombudsman | None
    reason: str
    spoof_suspected: bool


@dataclass(frozen=True)
class AutomaticVerdict:
    """Why a message was sent by a machine rather than a person."""

    kind: Literal["auto_reply", "bounce", "read_receipt", "list", "generated"]
    evidence: str


_NAMES = {
    Ombudsman.LGSCO: "the Local Government and Social Care Ombudsman",
    Ombudsman.HOS: "the Housing Ombudsman",
}

# RFC 5321 caps a domain at 255 octets; anything longer is not a real sender and is not worth
# the quadratic edit-distance work.
_MAX_DOMAIN = 255


# ---------------------------------------------------------------------------------------------
# The sender
# ---------------------------------------------------------------------------------------------


def assess_sender(message: Message, settings: TrustSettings) -> SenderVerdict:
    """Decide whether ``message`` verifiably comes from an Ombudsman.

    Trusted only when one of the council's own Authentication-Results headers shows DMARC pass for
    the From: domain and that domain is an Ombudsman domain or a subdomain of one. Any DMARC
    result other than pass in the council's headers wins over a pass. Otherwise the verdict says
    which Ombudsman the message claims or imitates, and whether spoofing is suspected.
    """
    bases = _ombudsman_bases(settings.ombudsman_domains)
    from_values = _raw_values(message, "from")
    mailboxes: list[_Mailbox] = []
    for value in from_values:
        parsed = _parse_mailboxes(value)
        if parsed is None:
            return SenderVerdict(False, None, "the From: header cannot be read as an address", False)
        mailboxes.extend(parsed)
    if not mailboxes:
        return SenderVerdict(False, None, "no usable From: address", False)
    if len(from_values) > 1 or len(mailboxes) > 1:
        return _several_senders(mailboxes, bases)

    sender = mailboxes[0]
    match = _ombudsman_of(sender.domain, bases)
    if match is not None:
        return _judge_authentication(message, settings, sender, match)
    council = _council_from_domain(sender.domain, settings.council_domains)
    claim = _display_claim(sender.display, bases)
    if council is not None:
        # Staff forwarding Ombudsman mail is normal: untrusted, never a spoof.
        if claim is not None and claim.ombudsman is not None:
            reason = (
                f"from the council's own address {sender.address} (internal or forwarded mail); "
                f"the display name mentions {claim.what}"
            )
            return SenderVerdict(False, claim.ombudsman, reason, False)
        reason = f"from the council's own domain {council} (internal or forwarded mail), not an Ombudsman"
        return SenderVerdict(False, None, reason, False)
    lookalike = _lookalike(sender.domain, bases)
    if lookalike is not None:
        return SenderVerdict(False, lookalike.ombudsman, lookalike.reason, True)
    if claim is not None:
        reason = f"display name claims {claim.what} but the address is {sender.address}"
        return SenderVerdict(False, claim.ombudsman, reason, True)
    return SenderVerdict(False, None, f"{sender.domain} is not an Ombudsman domain", False)


def _several_senders(mailboxes: list[_Mailbox], bases: list[tuple[str, Ombudsman]]) -> SenderVerdict:
    # DMARC is defined for a single author; a gateway may check one address while a person reads
    # another, so several authors are never trusted.
    addresses = ", ".join(_shorten(mailbox.address) for mailbox in mailboxes[:4])
    claimed = next(
        (found for found in (_claimed_by(mailbox, bases) for mailbox in mailboxes) if found is not None), None
    )
    reason = f"several From: addresses ({addresses}); only a single sender can be verified"
    return SenderVerdict(False, claimed, reason, claimed is not None)


def _claimed_by(mailbox: _Mailbox, bases: list[tuple[str, Ombudsman]]) -> Ombudsman | None:
    match = _ombudsman_of(mailbox.domain, bases)
    if match is not None:
        return match[1]
    lookalike = _lookalike(mailbox.domain, bases)
    if lookalike is not None:
        return lookalike.ombudsman
    claim = _display_claim(mailbox.display, bases)
    return claim.ombudsman if claim is not None else None


def _judge_authentication(
    message: Message, settings: TrustSettings, sender: _Mailbox, match: tuple[str, Ombudsman]
) -> SenderVerdict:
    base, ombudsman = match
    wanted = {_normalise_id(item) for item in settings.authserv_ids}
    # A header can only be the gateway's if the gateway's id is written in it; reading the others
    # in full would only throw them away (unless an empty id, Microsoft 365's form, is accepted).
    ours = [
        value
        for value in _raw_values(message, _AR)
        if "" in wanted or any(item in value.lower() for item in wanted)
    ]
    stamped = [
        results
        for results in map(_parse_authentication_results, ours)
        if results.authserv_id is not None and _normalise_id(results.authserv_id) in wanted
    ]
    if not stamped:
        return SenderVerdict(False, ombudsman, "no Authentication-Results from the council's gateway", False)
    dmarc = [(results.authserv_id, result) for results in stamped for result in results.dmarc]
    if not dmarc:
        reason = "the council's Authentication-Results have no DMARC result"
        return SenderVerdict(False, ombudsman, reason, False)
    from_domain = sender.domain
    failed = [result for _, result in dmarc if result.result == "fail"]
    if failed:
        return SenderVerdict(
            False, ombudsman, f"DMARC fail for {_shorten(failed[0].header_from or from_domain)}", True
        )
    other = [result for _, result in dmarc if result.result != "pass"]
    if other:
        # "none" for a domain that publishes a policy means the mail did not come from it;
        # temperror and permerror say nothing either way.
        verdict = other[0]
        reason = f"DMARC {_shorten(verdict.result, 20)} for {_shorten(verdict.header_from or from_domain)}"
        return SenderVerdict(False, ombudsman, reason, verdict.result == "none")
    for _, result in dmarc:
        if not result.header_from:
            reason = "DMARC pass without a header.from domain, so it cannot be matched to the From: address"
            return SenderVerdict(False, ombudsman, reason, False)
        if not _within(result.header_from, base):
            # The gateway read a different author than we did: a sign of a crafted From: header.
            # (Gateways name the From: domain itself; a pass for another part of the same
            # Ombudsman, say lgo.org.uk for casework.lgo.org.uk, is still that Ombudsman.)
            reason = (
                f"DMARC pass is for {_shorten(result.header_from)}, not for the From: domain {from_domain}"
            )
            return SenderVerdict(False, ombudsman, reason, True)
    authserv_id, result = dmarc[0]
    stamp = f"from {authserv_id}" if authserv_id else "with no authserv-id, accepted by configuration"
    reason = f"DMARC pass for {result.header_from} (Authentication-Results {stamp})"
    return SenderVerdict(True, ombudsman, reason, False)


def _within(domain: str, base: str) -> bool:
    return domain == base or domain.endswith("." + base)


def _ombudsman_bases(domains: Mapping[str, Ombudsman]) -> list[tuple[str, Ombudsman]]:
    bases = [(_normalise_domain(domain), ombudsman) for domain, ombudsman in domains.items()]
    # Longest first so a configured subdomain beats its parent.
    return sorted(((base, o) for base, o in bases if base), key=lambda item: -len(item[0]))


def _ombudsman_of(domain: str, bases: list[tuple[str, Ombudsman]]) -> tuple[str, Ombudsman] | None:
    for base, ombudsman in bases:
        if _within(domain, base):
            return base, ombudsman
    return None


def _council_from_domain(domain: str, council_domains: frozenset[str]) -> str | None:
    for council in sorted(council_domains):
        normalised = _normalise_domain(council)
        if normalised and _within(domain, normalised):
            return normalised
    return None


# ---------------------------------------------------------------------------------------------
# Reading headers without trusting them
# ---------------------------------------------------------------------------------------------

_AR = "authentication-results"


def _raw_values(message: Message, name: str) -> list[str]:
    """Every value of header ``name`` (lower case), as the sender wrote it; [] when unreadable."""
    values = headers.raw_values(message, name)
    if values is None:
        try:
            values = [_as_text(value) for value in message.get_all(name) or []]
        except Exception:  # the policy parses lazily and can raise on malformed values
            return []
    return [_recover(value) for value in values]


def _as_text(value: object) -> str:
    try:
        return str(value)
    except Exception:  # a header object whose rendering fails is as good as empty
        return ""


def _recover(text: str) -> str:
    # The parser keeps undecodable bytes as surrogate escapes; most are UTF-8 written without
    # RFC 2047, and reading them as UTF-8 is what exposes homoglyph domains.
    if text.isascii():  # nearly every header: nothing to recover
        return text
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    except UnicodeError:
        return text.encode("utf-8", "replace").decode("utf-8")


def _decode_words(text: str) -> str:
    """RFC 2047 decoding for display text; the text as written when it cannot be decoded."""
    if "=?" not in text:
        return text
    try:
        parts = email.header.decode_header(text)
        return "".join(
            part.decode(charset or "ascii", errors="replace") if isinstance(part, bytes) else part
            for part, charset in parts
        )
    except Exception:  # unknown charsets and broken encoded words: keep the raw text
        return text


def _shorten(text: str, limit: int = 80) -> str:
    """One line, printable, bounded: header text goes into reasons that RET reads."""
    cleaned = " ".join("".join(ch if ch.isprintable() else " " for ch in text).split())
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1] + "…"


# ---------------------------------------------------------------------------------------------
# Structured header values: RFC 8601 / RFC 2045 style tokens
# ---------------------------------------------------------------------------------------------

_Token = tuple[str, str]  # (kind, text); kind is "word", "quoted", "=" or ";"


def _lex(text: str) -> list[_Token]:
    """Words, quoted strings, "=" and ";" with comments and folding whitespace removed.

    Comments nest and may contain ";" (``(p=quarantine; dis=none)``); an unclosed comment or
    quoted string runs to the end, which can only hide results, never invent them.
    """
    if '"' in text or "\\" in text:
        return _lex_by_token(text)
    # No quoted string and no escape: comments are cut out innermost first (which is how their
    # nesting is counted), an unclosed one with the rest of the text, and what is left splits
    # into words and marks in one pass.
    while "(" in text:
        uncommented = _SIMPLE_COMMENT.sub(" ", text)
        if uncommented == text:
            text = text[: text.index("(")]
            break
        text = uncommented
    return [
        ("word", token) if token not in _MARKS else (token, token) for token in _PLAIN_TOKEN.findall(text)
    ]


_MARKS = frozenset({";", "="})
_PLAIN_TOKEN = re.compile(r'[^\s()";=]+|[;=]')


def _lex_by_token(text: str) -> list[_Token]:
    """:func:`_lex` for any text, one token at a time."""
    tokens: list[_Token] = []
    index = 0
    search = _LEXEME.search
    while (found := search(text, index)) is not None:
        word, mark, opener = found.groups()
        if word is not None:
            tokens.append(("word", word))
            index = found.end()
        elif mark is not None:
            tokens.append((mark, mark))
            index = found.end()
        elif opener == "(":
            index = _skip_comment(text, found.start())
        else:
            content, index = _read_quoted(text, found.start())
            tokens.append(("quoted", content))
    return tokens


# A word runs up to whitespace or a delimiter; whitespace and a stray ")" are skipped by search.
_LEXEME = re.compile(r'([^\s()";=]+)|([;=])|(["(])')
_SIMPLE_COMMENT = re.compile(r"\([^()\\]*\)")
_SIMPLE_QUOTED = re.compile(r'"([^"\\]*)"')


def _skip_comment(text: str, start: int) -> int:
    simple = _SIMPLE_COMMENT.match(text, start)
    if simple is not None:
        return simple.end()
    depth = 0
    index = start
    while index < len(text):
        char = text[index]
        if char == "\\":
            index += 2
            continue
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return index + 1
        index += 1
    return len(text)


def _comment_text(text: str, start: int) -> tuple[str, int]:
    end = _skip_comment(text, start)
    closed = end - 1 > start and text[end - 1] == ")"
    return (text[start + 1 : end - 1] if closed else text[start + 1 :]), end


def _read_quoted(text: str, start: int) -> tuple[str, int]:
    simple = _SIMPLE_QUOTED.match(text, start)
    if simple is not None:
        return simple.group(1), simple.end()
    content: list[str] = []
    index = start + 1
    while index < len(text):
        char = text[index]
        if char == "\\" and index + 1 < len(text):
            content.append(text[index + 1])
            index += 2
            continue
        if char == '"':
            return "".join(content), index + 1
        content.append(char)
        index += 1
    return "".join(content), len(text)


def _segments(tokens: list[_Token]) -> list[list[_Token]]:
    segments: list[list[_Token]] = [[]]
    for token in tokens:
        if token[0] == ";":
            segments.append([])
        else:
            segments[-1].append(token)
    return segments


def _pairs(segment: list[_Token]) -> list[tuple[int, str, str]]:
    """``key=value`` pairs as (position, lower-case key, value); stray tokens are skipped, so a
    base64 ``header.b`` with "=" padding cannot shift the pairs after it."""
    pairs: list[tuple[int, str, str]] = []
    index = 0
    while index < len(segment):
        kind, text = segment[index]
        if (
            kind == "word"
            and index + 2 < len(segment)
            and segment[index + 1][0] == "="
            and segment[index + 2][0] in ("word", "quoted")
        ):
            pairs.append((index, text.lower(), segment[index + 2][1]))
            index += 3
        else:
            index += 1
    return pairs


def _starts_with_pair(segment: list[_Token]) -> bool:
    pairs = _pairs(segment)
    return bool(pairs) and pairs[0][0] == 0


@dataclass(frozen=True)
class _DmarcResult:
    result: str  # lower case: pass, fail, none, temperror, permerror, ...
    header_from: str  # normalised domain, "" when the header does not say


@dataclass(frozen=True)
class _AuthenticationResults:
    authserv_id: str | None  # "" when the header has none (Microsoft 365); None when unreadable
    dmarc: tuple[_DmarcResult, ...]


def _parse_authentication_results(value: str) -> _AuthenticationResults:
    """One Authentication-Results header (RFC 8601, plus the Microsoft 365 form without an
    authserv-id). Only the DMARC results are kept; the rest is not evidence we act on."""
    segments = _segments(_lex(value))
    first = segments[0]
    if _starts_with_pair(first):
        authserv_id: str | None = ""
        method_segments = segments
    elif first and first[0][0] == "word" and value.lstrip().lower().startswith(first[0][1].lower()):
        # The authserv-id may be followed by a version number ("mx.northmere.gov.uk 1"). RFC 8601
        # also allows a quoted id or a comment before it, but a gateway stripping forged copies
        # of its header may not recognise those forms as its own, so they never count.
        authserv_id = first[0][1]
        method_segments = segments[1:]
    elif not first and len(segments) > 1:
        authserv_id = ""
        method_segments = segments[1:]
    else:
        authserv_id = None
        method_segments = []
    dmarc: list[_DmarcResult] = []
    for segment in method_segments:
        pairs = _pairs(segment)
        if not pairs or pairs[0][0] != 0:
            continue  # "none" (no results) or something unreadable
        _, method, result = pairs[0]
        if method.split("/", 1)[0].strip() != "dmarc":
            continue
        header_from = next((value for _, key, value in pairs[1:] if key == "header.from"), "")
        dmarc.append(_DmarcResult(result.strip().lower(), _normalise_domain(header_from.rpartition("@")[2])))
    return _AuthenticationResults(authserv_id, tuple(dmarc))


def _normalise_id(authserv_id: str) -> str:
    return authserv_id.strip().rstrip(".").lower()


def _normalise_domain(domain: str) -> str:
    return domain.strip().rstrip(".").lower()


# ---------------------------------------------------------------------------------------------
# The From: address
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Mailbox:
    address: str
    local: str
    domain: str  # normalised; may be non-ASCII or punycode
    display: str  # display name and comments, RFC 2047 decoded


@functools.lru_cache(maxsize=8)  # the sender check and the bounce check read the same From: value
def _parse_mailboxes(value: str) -> tuple[_Mailbox, ...] | None:
    """The mailboxes in one From: value; None when it is not a plain mailbox list.

    Deliberately simple and strict: an angle address wins over whatever is written before it
    (which is how gateways and mail clients read ``intake@lgo.org.uk <evil@x.com>``), and group
    syntax, several angle addresses in one mailbox or a bare address with spaces are unreadable.
    """
    easy = _PLAIN_MAILBOX.fullmatch(value)
    if easy is not None:  # "Name <address>" or a bare address: the same result without the loop
        plain, angle, tail = easy.groups()
        chunks: list[_Chunk] | None = [(plain + (tail or ""), [], [] if angle is None else [angle])]
    else:
        chunks = _chunks(value)
    if chunks is None:
        return None
    mailboxes: list[_Mailbox] = []
    for text, pieces, addresses in chunks:
        if not addresses and not text.strip():
            continue  # an empty list element, or a name with no address at all
        mailbox = _make_mailbox(text, pieces, addresses)
        if mailbox is None:
            return None
        mailboxes.append(mailbox)
    return tuple(mailboxes)


_Chunk = tuple[str, list[str], list[str]]  # (plain text, display pieces, angle addresses)
# No quotes, comments, groups or lists: the loop below would read this as plain text and at most
# one angle address (anything may stand inside the angle brackets but another bracket).
_PLAIN_MAILBOX = re.compile(r'([^"(<>:;,]*)(?:<([^<>]*)>(\s*))?')


def _chunks(value: str) -> list[_Chunk] | None:
    """A From: value split into its list elements, character by character; None for group syntax."""
    chunks: list[_Chunk] = []
    plain: list[str] = []
    display: list[str] = []
    angles: list[str] = []
    index, length = 0, len(value)
    while index < length:
        char = value[index]
        if char == '"':
            content, index = _read_quoted(value, index)
            display.append(content)
        elif char == "(":
            content, index = _comment_text(value, index)
            display.append(content)
        elif char == "<":
            end = value.find(">", index + 1)
            end = length if end < 0 else end
            angles.append(value[index + 1 : end])
            index = end + 1
        elif char in ":;":
            return None  # group syntax: not a single author
        elif char == ",":
            chunks.append(("".join(plain), display, angles))
            plain, display, angles = [], [], []
            index += 1
        else:
            plain.append(char)
            index += 1
    chunks.append(("".join(plain), display, angles))
    return chunks


def _make_mailbox(plain: str, display: list[str], angles: list[str]) -> _Mailbox | None:
    if len(angles) > 1:
        return None
    if angles:
        address = angles[0].strip()
        if address.startswith("@") and ":" in address:
            address = address.split(":", 1)[1].strip()  # obsolete source route
        name = " ".join([plain, *display])
    else:
        address = plain.strip()
        name = " ".join(display)
    if not address or any(char.isspace() for char in address):
        return None
    local, at, domain = address.rpartition("@")
    domain = _normalise_domain(domain)
    if not at or not local or not domain:
        return None
    return _Mailbox(address=address, local=local, domain=domain, display=_decode_words(name).strip())


# ---------------------------------------------------------------------------------------------
# Lookalike domains and display-name claims
# ---------------------------------------------------------------------------------------------

# Second-level suffixes under which names are registered, enough for the domains this bot sees
# (a full public suffix list would mean data files or I/O in the domain layer).
_MULTI_LABEL_SUFFIXES = frozenset(
    {
        "org.uk", "co.uk", "gov.uk", "ac.uk", "me.uk", "ltd.uk", "plc.uk", "net.uk", "sch.uk",
        "nhs.uk", "police.uk", "mod.uk", "com.au", "net.au", "org.au", "co.nz", "org.nz",
        "co.za", "co.in", "co.jp", "com.br", "com.cn", "com.mx", "com.tr", "co.kr",
    }
)  # fmt: skip

# Characters that render like ASCII letters in common fonts. Digits 0 and 1 are here too because
# "lg0" and "1go" are the cheapest imitations of all.
_CONFUSABLES = str.maketrans(
    {
        "а": "a", "в": "b", "г": "r", "ь": "b", "е": "e", "к": "k", "м": "m", "о": "o", "р": "p",
        "с": "c", "т": "t", "у": "y", "х": "x", "і": "i", "ј": "j", "ѕ": "s", "һ": "h", "ԁ": "d",
        "ԛ": "q", "ԝ": "w", "ӏ": "l", "α": "a", "β": "b", "γ": "y", "ε": "e", "ι": "i", "κ": "k",
        "ν": "v", "ο": "o", "ρ": "p", "τ": "t", "υ": "u", "χ": "x", "ω": "w", "ı": "i", "ɡ": "g",
        "ɩ": "i", "ǀ": "l", "ℓ": "l", "0": "o", "1": "l",
    }
)  # fmt: skip


def _skeleton(text: str) -> str:
    """What ``text`` looks like: punycode decoded, accents dropped, look-alike characters
    replaced by the ASCII letter they imitate."""
    decoded = ".".join(_from_punycode(label) for label in text.split("."))
    decomposed = unicodedata.normalize("NFKD", decoded)
    stripped = "".join(char for char in decomposed if not unicodedata.combining(char))
    return stripped.casefold().translate(_CONFUSABLES)


def _from_punycode(label: str) -> str:
    if not label.startswith("xn--") or len(label) > 63:  # 63: the DNS limit, and bounds the work
        return label
    try:
        return label[4:].encode("ascii").decode("punycode")
    except (UnicodeError, ValueError):
        return label  # not valid punycode: compare it as written


def _registrable(domain: str) -> tuple[str, str]:
    """(name, suffix) of the registrable part: ("lgo", "org.uk") for casework.lgo.org.uk."""
    labels = domain.split(".")
    size = 3 if len(labels) >= 3 and ".".join(labels[-2:]) in _MULTI_LABEL_SUFFIXES else 2
    registrable = labels[-size:]
    return registrable[0], ".".join(registrable[1:])


def _squash(text: str) -> str:
    return text.replace(".", "").replace("-", "").replace("_", "")


def _edit_distance(left: str, right: str, limit: int) -> int:
    """Optimal string alignment distance (a swap of two letters is one edit), or limit + 1."""
    if abs(len(left) - len(right)) > limit:
        return limit + 1
    before: list[int] = []
    previous = list(range(len(right) + 1))
    for i, a in enumerate(left, 1):
        current = [i]
        for j, b in enumerate(right, 1):
            cost = current[j - 1] + 1
            cost = min(cost, previous[j] + 1, previous[j - 1] + (a != b))
            if i > 1 and j > 1 and a == right[j - 2] and left[i - 2] == b:
                cost = min(cost, before[j - 2] + 1)
            current.append(cost)
        if min(current) > limit:
            return limit + 1
        before, previous = previous, current
    return previous[-1]


@dataclass(frozen=True)
class _Lookalike:
    ombudsman: Ombudsman
    reason: str


def _lookalike(domain: str, bases: list[tuple[str, Ombudsman]]) -> _Lookalike | None:
    """The Ombudsman that ``domain`` imitates, if any (``domain`` is not a real Ombudsman one)."""
    if not domain or len(domain) > _MAX_DOMAIN or domain.startswith("["):
        return None
    skeleton = _skeleton(domain)
    # For internationalised domains the look-alike characters are the story; "differs by 1
    # character" would describe two strings that look identical to the reader.
    unusual = not domain.isascii() or "xn--" in domain
    for base, ombudsman in bases:
        looks_like = skeleton != domain and (
            _within(skeleton, base) or _imitation(skeleton, base) is not None
        )
        how = None if unusual else _imitation(domain, base)
        if how is None and looks_like:
            how = f"look-alike characters: reads as {_shorten(skeleton)}"
        if how is None and unusual:
            how = _imitation(domain, base)
        if how is not None:
            shown = f"{_shorten(domain)}{_ascii_form(domain)}"
            return _Lookalike(ombudsman, f"lookalike domain {shown} imitates {base} ({how})")
    return None


def _ascii_form(domain: str) -> str:
    """The punycode form in brackets for a Unicode domain, so RET can see it is not the real one."""
    if domain.isascii():
        return ""
    try:
        return f" ({domain.encode('idna').decode('ascii')})"
    except (UnicodeError, ValueError):
        return ""


def _imitation(domain: str, base: str) -> str | None:
    """How ``domain`` imitates ``base``, or None."""
    if _within(domain, base):
        return None
    if base in domain:
        return "contains the real domain"
    name, suffix = _registrable(domain)
    real_name, real_suffix = _registrable(base)
    if not name:
        return None
    if name == real_name:
        return "same name under a different ending"
    if _squash(name) == _squash(real_name) or _squash(f"{name}.{suffix}") == _squash(base):
        return "same name with hyphens or dots changed"
    # Short names like "lgo" are two edits from real bodies ("ico.org.uk", "nao.org.uk"), so
    # they get one edit; longer names get the two the design asks for.
    short = len(real_name) <= 4
    distance = _edit_distance(f"{name}.{suffix}", f"{real_name}.{real_suffix}", 1 if short else 2)
    if distance <= (1 if short else 2):
        return f"differs by {distance} character{'s' if distance > 1 else ''}"
    if not short and _edit_distance(name, real_name, 2) <= 2:
        return "nearly the same name under a different ending"
    parts = re.split(r"[.\-_]", domain)
    real_parts = real_name.split("-")
    if any(parts[i : i + len(real_parts)] == real_parts for i in range(len(parts))):
        return "uses the real name inside another domain"
    if not short and _squash(real_name) in _squash(domain):
        return "uses the real name inside another domain"
    return None


@dataclass(frozen=True)
class _Claim:
    ombudsman: Ombudsman | None  # None: "an Ombudsman", not saying which
    what: str


_ADDRESS_IN_TEXT = re.compile(r"[^\s<>()\"',;:@\[\]]+@([a-z0-9][a-z0-9.\-]*[a-z0-9])")
_PHRASES: tuple[tuple[re.Pattern[str], Ombudsman], ...] = (
    (re.compile(r"\bhousing ombuds(?:man|men|person)\b"), Ombudsman.HOS),
    (re.compile(r"\blocal government (?:and social care )?ombuds(?:man|men|person)\b"), Ombudsman.LGSCO),
    (re.compile(r"\blgsco\b|\blgo\b"), Ombudsman.LGSCO),
)
_GENERIC = re.compile(r"ombuds(?:man|men|person)")


def _display_claim(display: str, bases: list[tuple[str, Ombudsman]]) -> _Claim | None:
    """Which Ombudsman a display name (or old-style comment) claims to be, if any."""
    if not display:
        return None
    text = _skeleton(display[:1000]).replace("&", " and ")
    for match in _ADDRESS_IN_TEXT.finditer(text):
        found = _ombudsman_of(_normalise_domain(match.group(1)), bases)
        if found is not None:
            return _Claim(found[1], f"the Ombudsman address {_shorten(match.group(0))}")
    words = " ".join(re.sub(r"[^a-z0-9@.\-]+", " ", text).split())
    for pattern, ombudsman in _PHRASES:
        if pattern.search(words):
            return _Claim(ombudsman, _NAMES[ombudsman])
    if _GENERIC.search(words):
        return _Claim(None, "an Ombudsman")
    return None


# ---------------------------------------------------------------------------------------------
# Automatic mail
# ---------------------------------------------------------------------------------------------

_AUTO_REPLY_SUBJECTS = ("automatic reply:", "auto:", "out of office")
_BOUNCE_SUBJECTS = (
    "undeliverable:",
    "delivery status notification",
    "undelivered mail",
    "mail delivery failed",
    "delivery failure",
    "returned mail",
    "failure notice",
)
_BOUNCE_SENDERS = frozenset({"mailer-daemon", "postmaster"})
_READ_SUBJECTS = ("read:", "not read:")
_MAX_PARTS = 200  # enough for any real report; bounds the walk over hostile nesting


def detect_automatic(
    message: Message, ombudsman_domains: Mapping[str, Ombudsman] | None = None
) -> AutomaticVerdict | None:
    """Whether a machine sent ``message``: a bounce, read receipt, auto-reply or list mail.

    None for ordinary human mail. The Ombudsmen's casework systems and portals send real
    letters and notifications marked ``Auto-Submitted: auto-generated``: from a domain in
    ``ombudsman_domains`` such mail, when it answers no message, is "generated", to be read for
    its words (and never answered). From anyone else, the bot's own mail coming back included,
    it is an automatic reply.
    """
    # Structure first (a bounce may quote an auto-reply's headers), then explicit auto-reply
    # markers, then list headers, and Precedence last because it is the weakest signal.
    present = headers.table(message)
    for check, names in _AUTOMATIC_CHECKS:
        if names and present is not None and names.isdisjoint(present):
            continue  # none of the headers it reads: it has nothing to find (most mail)
        verdict = check(message)
        if verdict is not None:
            if verdict.kind == "generated" and not _from_an_ombudsman(message, ombudsman_domains or {}):
                return AutomaticVerdict("auto_reply", "Auto-Submitted: auto-generated")
            return verdict
    return None


def _from_an_ombudsman(message: Message, ombudsman_domains: Mapping[str, Ombudsman]) -> bool:
    """Whether the From address is in an Ombudsman's domain (trusted or not: that is judged apart)."""
    senders = _senders(message)
    bases = _ombudsman_bases(ombudsman_domains)
    return len(senders) == 1 and _ombudsman_of(senders[0].domain, bases) is not None


def _senders(message: Message) -> list[_Mailbox]:
    """The mailboxes of the From header (none when it cannot be read)."""
    return [mailbox for value in _raw_values(message, "from") for mailbox in (_parse_mailboxes(value) or [])]


def _first_token(value: str) -> str:
    """The leading keyword of a header value, lower case ("" when there is none)."""
    tokens = _lex(value)
    if tokens and tokens[0][0] in ("word", "quoted"):
        return tokens[0][1].strip().lower()
    return ""


def _content_type(value: str) -> tuple[str, dict[str, str]]:
    segments = _segments(_lex(value))
    first = segments[0]
    content_type = first[0][1].lower() if first and first[0][0] == "word" else ""
    params: dict[str, str] = {}
    for segment in segments[1:]:
        for _, key, param in _pairs(segment):
            params.setdefault(key, param.strip().lower())
    return content_type, params


def _subject(message: Message) -> str:
    values = _raw_values(message, "subject")
    return " ".join(_decode_words(values[0]).split()).lower() if values else ""


def _bounce_or_receipt(message: Message) -> AutomaticVerdict | None:
    types = _raw_values(message, "content-type")
    # Only report types matter here; a header that cannot name one is not lexed at all.
    plain = types[0].lower().replace("\\", "") if types else ""
    content_type, params = _content_type(types[0]) if any(h in plain for h in _REPORT_HINTS) else ("", {})
    report_type = params.get("report-type", "")
    if content_type == "multipart/report" and report_type == "delivery-status":
        return AutomaticVerdict("bounce", "multipart/report; report-type=delivery-status")
    if content_type == "multipart/report" and report_type == "disposition-notification":
        return AutomaticVerdict("read_receipt", "multipart/report; report-type=disposition-notification")
    if content_type == "message/delivery-status":
        return AutomaticVerdict("bounce", "Content-Type: message/delivery-status")
    if content_type == "message/disposition-notification":
        return AutomaticVerdict("read_receipt", "Content-Type: message/disposition-notification")

    subject = _subject(message)
    senders = _senders(message)
    if any(mailbox.local.lower() in _BOUNCE_SENDERS for mailbox in senders):
        prefix = next((p for p in _BOUNCE_SUBJECTS if subject.startswith(p)), None)
        if prefix is not None:
            return AutomaticVerdict("bounce", f"From: {senders[0].local} with subject '{prefix}'")
    prefix = next((p for p in _READ_SUBJECTS if subject.startswith(p)), None)
    if prefix is not None and (content_type == "multipart/report" or _has_part(message, _MDN)):
        return AutomaticVerdict("read_receipt", f"subject '{prefix}' with a {_MDN} part")
    return None


_MDN = "message/disposition-notification"
# Every content type _bounce_or_receipt looks for holds one of these.
_REPORT_HINTS = ("report", "delivery-status", "disposition-notification")


def _has_part(message: Message, content_type: str) -> bool:
    try:
        for count, part in enumerate(message.walk()):
            if count > _MAX_PARTS:
                return False
            if part is not message and part.get_content_type() == content_type:
                return True
    except Exception:  # a malformed part is simply not the structure we are looking for
        return False
    return False


def _auto_reply(message: Message) -> AutomaticVerdict | None:
    generated = False
    for value in _raw_values(message, "auto-submitted"):
        keyword = _first_token(value)
        if keyword == "auto-generated" and not _answers_a_message(message):
            generated = True  # unless another header says it is a reply after all
        elif keyword and keyword != "no":
            return AutomaticVerdict("auto_reply", f"Auto-Submitted: {_shorten(keyword, 40)}")
    for name, shown in (("x-autoreply", "X-Autoreply"), ("x-autorespond", "X-Autorespond")):
        for value in _raw_values(message, name):
            keyword = _first_token(value)
            if keyword and keyword not in ("no", "false", "0"):
                return AutomaticVerdict("auto_reply", f"{shown}: {_shorten(keyword, 40)}")
    for name, shown in (
        ("x-ms-exchange-generated-message-source", "X-MS-Exchange-Generated-Message-Source"),
        ("x-ms-exchange-organization-autoreply", "X-MS-Exchange-Organization-AutoReply"),
    ):
        values = [" ".join(value.split()) for value in _raw_values(message, name)]
        if any(values):
            return AutomaticVerdict("auto_reply", f"{shown}: {_shorten(next(v for v in values if v), 40)}")
    if _present(_raw_values(message, "x-auto-response-suppress")):
        # Outlook puts X-Auto-Response-Suppress on ordinary mail too; only with a second
        # Microsoft signal does it mean the message itself was generated.
        if _present(_raw_values(message, "x-ms-exchange-inbox-rules-loop")):
            return AutomaticVerdict(
                "auto_reply", "X-Auto-Response-Suppress with X-MS-Exchange-Inbox-Rules-Loop"
            )
        prefix = _auto_reply_subject(message)
        if prefix is not None:
            return AutomaticVerdict("auto_reply", f"X-Auto-Response-Suppress with subject '{prefix}'")
    if generated:
        return AutomaticVerdict("generated", "Auto-Submitted: auto-generated (a notification, not a reply)")
    return None


def _answers_a_message(message: Message) -> bool:
    """Whether automatic mail answers another message: it says it replies (In-Reply-To) or its
    subject is an auto-reply's. RFC 3834 keeps "auto-generated" for mail that answers nothing, such
    as an Ombudsman portal's notifications, but Exchange puts it on out-of-office replies too.
    (X-Auto-Response-Suppress says nothing of it: casework systems put it on notifications.)"""
    return _present(_raw_values(message, "in-reply-to")) or _auto_reply_subject(message) is not None


def _auto_reply_subject(message: Message) -> str | None:
    """The auto-reply prefix the subject starts with ("automatic reply:"), if any."""
    subject = _subject(message)
    return next((prefix for prefix in _AUTO_REPLY_SUBJECTS if subject.startswith(prefix)), None)


# An answer to a calendar invitation (the bot sends one before each due date). "Accepted" and
# "Tentative" ask nothing; a decline is left for a person, as it may say whom to ask instead.
_CALENDAR_ANSWERS = ("accepted:", "tentative:", "tentatively accepted:")


def _calendar_reply(message: Message) -> AutomaticVerdict | None:
    subject = _subject(message)
    answer = next((a for a in _CALENDAR_ANSWERS if subject.startswith(a)), None)
    if answer is None:
        return None
    try:
        for part in message.walk():
            if (
                part.get_content_type() == "text/calendar"
                and str(part.get_param("method", "")).lower() == "reply"
            ):
                return AutomaticVerdict(
                    "auto_reply", f"a calendar reply with a text/calendar REPLY ('{answer}')"
                )
    except Exception:  # malformed parameters: not a calendar reply we can read
        return None
    return None


def _list_mail(message: Message) -> AutomaticVerdict | None:
    list_ids = [" ".join(value.split()) for value in _raw_values(message, "list-id")]
    if any(list_ids):
        return AutomaticVerdict("list", f"List-Id: {_shorten(next(v for v in list_ids if v), 60)}")
    # The unsubscribe link is often personal, so the evidence names the header, not its value.
    if _present(_raw_values(message, "list-unsubscribe")):
        return AutomaticVerdict("list", "List-Unsubscribe header")
    return None


def _precedence(message: Message) -> AutomaticVerdict | None:
    for value in _raw_values(message, "precedence"):
        keyword = _first_token(value)
        # "bulk" is what mass mailings (an Ombudsman's newsletters and circulars) carry; the old
        # vacation programs use "junk", and "auto_reply" says it outright.
        if keyword in ("list", "bulk"):
            return AutomaticVerdict("list", f"Precedence: {keyword}")
        if keyword in ("junk", "auto_reply", "auto-reply"):
            return AutomaticVerdict("auto_reply", f"Precedence: {keyword}")
    return None


def _present(values: Iterable[str]) -> bool:
    return any(value.strip() for value in values)


_AUTO_REPLY_HEADERS = (
    "auto-submitted",
    "x-autoreply",
    "x-autorespond",
    "x-ms-exchange-generated-message-source",
    "x-ms-exchange-organization-autoreply",
    "x-auto-response-suppress",
)
# Each check, with the headers (lower case) it reads first: without any of them it finds nothing.
# Empty: always run.
_AUTOMATIC_CHECKS: tuple[tuple[Callable[[Message], AutomaticVerdict | None], frozenset[str]], ...] = (
    (_bounce_or_receipt, frozenset()),
    (_auto_reply, frozenset(_AUTO_REPLY_HEADERS)),
    (_calendar_reply, frozenset({"subject"})),
    (_list_mail, frozenset({"list-id", "list-unsubscribe"})),
    (_precedence, frozenset({"precedence"})),
)
