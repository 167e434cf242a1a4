"""The deadlines an Ombudsman email sets, found in its newest text.

Pure: the text, the letter's date, the time of receipt and the calendar go in;
a list of ``Deadline`` values comes out. No clock, no I/O, nothing that changes.

Three kinds of phrase set a deadline (DESIGN.md, "Working days and due dates"):

- a working-day period ("within 20 working days", "ten (10) working days"),
  counted from day 0, the effective date of receipt;
- a calendar period ("within four weeks", "within one month", "within 28 days"),
  counted from the letter's date and not moved off weekends or bank holidays;
- an explicit date after a deadline cue ("no later than 14 May 2026",
  "by close of business on Friday 14 March", "on or before 14/03/2025").

A date without a cue (the date of the complaint, of an earlier letter, the
letter's own date line) is not a deadline. Nor is a period that is not the
council's to meet now, however it is worded: the Ombudsman's own timescale, a
review window or anyone else's right, what a policy, code or law requires, a
period counted from some other event, what happened and how long it took, an
earlier request recalled, a remedy a draft proposes, and anything under a
decision's "Law and guidance" or "Summary of events" headings. Each such test
gives way when the sentence asks for something now ("please", "we need").

Each deadline carries the numbered
item, or else the sentence, it belongs to, so a determination with three orders
gives three deadlines, each with its own order as its ``text``.

Every pattern is compiled once and written so that it cannot backtrack
catastrophically: no nested unbounded quantifiers, and every optional part is a
short literal, so the work grows linearly with the text. The patterns run
case-sensitively on a lower-cased copy of the text, which Python's ``re`` scans
several times faster than with IGNORECASE.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal, NamedTuple

from dateutil.relativedelta import relativedelta

from inboxbot.domain.calendar import CalendarError, WorkingCalendar

# Long enough to name the order in a task title, short enough for a subject line.
MAX_TEXT_CHARS = 300

# The longest period a phrase may set; a three-digit count is already far
# beyond any Ombudsman period, this only keeps date arithmetic in range.
_MAX_COUNT = 999

Source = Literal["explicit", "relative"]


@dataclass(frozen=True)
class Deadline:
    """One deadline the email sets, with the order or request it belongs to."""

    due: date
    source: Source
    text: str  # the sentence or numbered item holding the deadline, whitespace collapsed, <= 300 chars
    evidence: str  # the phrase matched, whitespace collapsed, e.g. "no later than 14 May 2026"


# ---------------------------------------------------------------------------
# Vocabulary

_UNITS = ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
_TEENS = (
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
)
_NUMBER_WORDS: dict[str, int] = (
    {word: value for value, word in enumerate(_UNITS, start=1)}
    | {word: value for value, word in enumerate(_TEENS, start=10)}
    | {"twenty": 20, "thirty": 30}
    | {f"twenty{word}": 20 + value for value, word in enumerate(_UNITS, start=1)}
)
_NUMBER_WORD = (
    r"\b(?:twenty(?:[\s-]?(?:" + "|".join(_UNITS) + r"))?|thirty|" + "|".join(_TEENS + _UNITS) + r")\b"
)
# Digits not glued to other digits, decimals or money, so "£1,250" or "1.5" never count.
_COUNT_DIGITS = r"(?<![0-9.,£$])[0-9]{1,3}(?![0-9])"
_COUNT = (
    rf"(?P<n>{_COUNT_DIGITS}|{_NUMBER_WORD})"
    rf"(?:\s*\(\s*(?P<n2>[0-9]{{1,3}}|{_NUMBER_WORD})\s*\))?"  # "ten (10)", "10 (ten)"
)


def _backwards(*phrases: str) -> str:
    """An alternation of ``phrases`` spelt backwards, longest first, for patterns read right to left."""
    spelt = [r"\s+".join(word[::-1] for word in reversed(phrase.split())) for phrase in phrases]
    return "|".join(sorted(spelt, key=len, reverse=True))


# The same counts read backwards from the end: a working-day period is found by its
# tail ("working days"), and the count and "within" before it are read right to
# left with one anchored match on the reversed text, instead of a search.
_NUMBER_WORD_BACKWARDS = (
    rf"(?:(?:(?:{_backwards(*_UNITS)})[\s-]?)?ytnewt|{_backwards('thirty', *_TEENS, *_UNITS)})(?!\w)"
)
_COUNT_DIGITS_BACKWARDS = r"[0-9]{1,3}(?![0-9.,£$])"
_COUNT_BACKWARDS = (
    rf"(?:\)\s*(?P<n2>{_COUNT_DIGITS_BACKWARDS}|{_NUMBER_WORD_BACKWARDS})\s*\(\s*)?"
    rf"(?P<n>{_COUNT_DIGITS_BACKWARDS}|{_NUMBER_WORD_BACKWARDS})"
)

_MONTHS: dict[str, int] = {
    name: number
    for number, name in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), start=1
    )
}
# The dot is only taken after an abbreviation ("14 Mar. 2025"); after "March" it ends the sentence.
_MONTH = (
    r"(?:jan(?:uary|\.)?|feb(?:ruary|\.)?|mar(?:ch|\.)?|apr(?:il|\.)?|may|jun(?:e|\.)?|jul(?:y|\.)?"
    r"|aug(?:ust|\.)?|sep(?:tember|t\.?|\.)?|oct(?:ober|\.)?|nov(?:ember|\.)?|dec(?:ember|\.)?)(?![a-z])"
)
_WEEKDAY = (
    r"(?:monday|mon|tuesday|tues|tue|wednesday|wed|thursday|thurs|thur|thu|friday|fri"
    r"|saturday|sat|sunday|sun)\b\.?,?\s+"
)
_ORDINAL = r"(?:st|nd|rd|th)?"

# The date formats a deadline may be written in. UK day-first for numeric dates.
_DATE = (
    # 14 March 2025, 14th of March 2025, 14 Mar 2025, 14 March (no year)
    # and 14-Mar-2025 as system notices write it
    rf"(?P<d1>[0-9]{{1,2}}){_ORDINAL}(?:(?:\s+of)?\s+|-)(?P<m1>{_MONTH})(?:(?:,?\s+|-)(?P<y1>[0-9]{{4}})(?![0-9]))?"
    # March 14, 2025 and March 14
    rf"|(?P<m2>{_MONTH})\s+(?P<d2>[0-9]{{1,2}}){_ORDINAL}\b(?:,?\s+(?P<y2>[0-9]{{4}})(?![0-9]))?"
    # 14/03/2025, 14/3/25, 14.03.2025, 14-03-2025: the same separator twice
    rf"|(?<![0-9/.-])(?P<d3>[0-9]{{1,2}})(?P<sep>[/.-])(?P<m3>[0-9]{{1,2}})(?P=sep)"
    rf"(?P<y3>[0-9]{{4}}|[0-9]{{2}})(?![0-9/-]|\.[0-9])"
    # 2025-03-14
    rf"|(?<![0-9/.-])(?P<y4>[0-9]{{4}})-(?P<m4>[0-9]{{1,2}})-(?P<d4>[0-9]{{1,2}})(?![0-9-]|\.[0-9])"
)

# A time of day between the cue and the date: "by 5pm on", "by close of business on".
_TIME_OF_DAY = (
    r"(?:close\s+of\s+(?:business|play)|cob|(?:the\s+)?end\s+of\s+(?:the\s+)?(?:day|business|play)"
    r"|(?:12\s+)?noon|midday|midnight"
    r"|[0-9]{1,2}(?:[.:][0-9]{2})?\s*(?:am|pm|a\.m\.|p\.m\.)|[0-9]{1,2}[.:][0-9]{2})"
    r"(?:\s+on|\s*,)?\s+"
)

# No leading \b: Python's re checks it at every position of the text, which
# costs more than the whole match; the word boundary is checked on the hits.
_DEADLINE_CUE = (
    r"no\s+later\s+than|not\s+later\s+than|on\s+or\s+before|before|you\s+have\s+until|until"
    # "deadline of", "deadline is", "deadline:", "the deadline for your comments is"
    r"|deadline(?:\s+date)?(?:\s+for(?:\s+[a-z']{1,20}){1,4}?(?:\s+is)?|\s+is|\s+of)?(?=\s*:|\s)"
    r"|due(?:\s+(?:on|by))?|by"
)

_EXPLICIT = re.compile(
    rf"(?P<cue>{_DEADLINE_CUE})(?:\s*:\s*|\s+)(?:{_TIME_OF_DAY})?"
    rf"(?:(?:{_WEEKDAY})?(?:the\s+)?(?:{_DATE})"
    # "by Fri 16/4": day and month without a year, only after a weekday ("reduced by 1/2" is no date).
    rf"|{_WEEKDAY}(?P<d5>[0-9]{{1,2}})/(?P<m5>[0-9]{{1,2}})(?![0-9/]))"
)

_PERIOD_LEAD = (
    r"(?:within|no\s+later\s+than|not\s+later\s+than)\s+(?:the\s+next\s+|a\s+(?:period|maximum)\s+of\s+)?"
)

# Working-day periods are found by their tail, which is rare and cheap to scan
# for, then read backwards from it (see _COUNT_BACKWARDS).
_WORKING_DAYS_TAIL = re.compile(r"(?:working|business)[\s-]+days?\b")
_WORKING_DAYS_HEAD_BACKWARDS = re.compile(
    rf"\s+{_COUNT_BACKWARDS}"
    rf"(?P<lead>\s+(?:{_backwards('the next', 'a period of', 'a maximum of')})?"
    rf"(?:{_backwards('within', 'no later than', 'not later than', 'in')})(?!\w))?"
)
# "The stage 2 response was sent 34 working days after the request" measures the past: a period with
# no "within" before it and "after" or "late" behind it sets nothing.
_PAST_PERIOD_AFTER = re.compile(r"\s+(?:after|late|later|ago)\b")
# "The council took 45 working days to reply" describes the past, not a deadline; "the stage 1
# response took 41 working days, well beyond the 10 working days" measures it against a rule.
_PAST_WORDS = (
    *("took", "taken", "taking", "takes", "after", "over", "more than", "longer than"),
    *("beyond the", "outside the", "beyond", "outside"),
    # "far longer than the 65 working day maximum", "against the 20 working days set by the Code"
    *("than the", "against the", "against", "against the code's", "against its"),
    # "the statutory timescale is 25 working days (extendable to 65)": the law's period, named.
    *("statutory timescale is", "statutory timescale of", "statutory time limit is"),
    *("statutory time limit of", "statutory period is", "statutory period of"),
)
_PAST_PERIOD_BACKWARDS = re.compile(
    rf"\s+(?:{_backwards(*_PAST_WORDS)}"
    r"|(?:de|gni|s)?deecxe)(?!\w)"
)
# Room for "not later than a period of twenty-seven (27) " and a past-tense word before it.
_WORKING_DAYS_LOOKBACK = 80

# "within a month", and "within the next fortnight", which is one.
_CALENDAR_PERIOD = re.compile(
    rf"{_PERIOD_LEAD}(?:(?P<article>an?\b|(?<=next\s))|{_COUNT})\s*"
    r"(?P<unit>(?:calendar\s+)?days?|weeks?|(?:calendar\s+)?months?|fortnights?)\b"
)

# "before" is a deadline only when someone is being asked to do something;
# "Before 10 April 2026 the council had not inspected" is history.
_REQUEST = re.compile(
    r"\b(?:please|kindly|must|should|need|needs|required?|requires|ask|asked|respond|reply|provide"
    r"|send|submit|return|comply|complete|pay|confirm|ensure|arrange|let\s+(?:us|me)\s+know|grateful"
    r"|expects?|expected|ordered|recommend\w*|deadline|(?:can|could|will|would)\s+you)\b"
)
_REQUEST_LOOKBACK = 200
# How far back the sentence of a period is read for the rule it states or the past it tells.
_SENTENCE_LOOKBACK = 400
# "Please do not publish it before 00:01 on 12 November" is an embargo, not a deadline.
_PROHIBITION = re.compile(r"\b(?:do\s+not|don't|don’t|must\s+not|should\s+not|may\s+not|not\s+to)\b")

# The Ombudsman's own timescales are not the council's deadlines: "we will normally
# update Mrs X within 10 working days", "I aim to make a decision within 12 weeks",
# "we expect to issue our draft decision by 3 April". Only when the Ombudsman is
# the one acting, and no "if"/"unless" turns the period back on the council
# ("we will issue a CHFO if we do not receive it by ..."). Verbs such as
# "consider" are left out on purpose: "we will consider comments received by 3
# April" is the council's deadline.
_OWN_TIMESCALE = (
    r"\b(?:we|i|the\s+ombudsman)\s+(?:(?:currently|now|normally|usually|generally)\s+)?"
    r"(?:will|would|shall|aims?|expects?|intends?|hopes?|try|tries|plans?)\b"
    r"(?:\s+(?:normally|usually|generally|then|now|also|aim|expect|try|hope|to|be|able|that|this))*"
    r"\s+(?:update|issue|make|reach|decide|respond|reply|write|contact|complete|finish|publish|share|tell"
    r"|let\s+you\s+know|get\s+back|come\s+back|be\s+in\s+touch|happen|be\s+allocated|allocate)\b"
    r"(?:\s+(?!if\b|unless\b|once\b|until\b|when\b|after\b)[\w'’,-]+){0,8}?\s*$"
)

# A review window is a right, not a duty: "he can ask us to review it within one month".
_REVIEW_WINDOW = (
    r"\b(?:ask|request|apply)(?:s|ed|ing)?\s+(?:(?:us|for|to)\s+)*(?:a\s+)?review\b"
    r"(?:\s+[\w'’,-]+){0,6}?\s*$"
)

# A duty of every landlord or council, stated as a rule, is nobody's deadline: "Under the Complaint
# Handling Code landlords must respond to stage 1 complaints within 10 working days."
_GENERAL_DUTY = (
    r"\b(?:landlords|councils|local\s+authorities|organisations)\s+"
    r"(?:must|should|are\s+(?:required|expected)\s+to|have\s+to|need\s+to)\b[^.;]*$"
)

# Each of the three just above says whose period it is not; one pass over the text looks for all three.
_NOT_THE_COUNCILS = re.compile(f"(?:{_OWN_TIMESCALE})|(?:{_REVIEW_WINDOW})|(?:{_GENERAL_DUTY})")

# A period counted from some event ("within 6 weeks of a request", "within 10 working days of the
# complaint being acknowledged") is a rule about such events, not a deadline this letter sets; only
# a period counted from this letter, or from the decision or report it is, counts from day 0.
_COUNTED_FROM = re.compile(
    r"[\"'”’)]*\s+(?:of|from|after|following)\s+(?:the\s+date\s+of\s+)?(?:(?:receipt\s+of|receiving)\s+)?"
)
# This letter named as such: "of this letter", "of my final decision", "of the date of this report".
_THIS_LETTER_ITSELF = re.compile(
    r"(?:this|my|our|today)\b|the\s+(?:final\s+(?:decision|determination|report)|ombudsman)\b"
)
_THIS_LETTER = re.compile(
    r"(?:this|these|my|our|today|it|them|receipt|issue|that\s+date)\b"
    r"|the\s+(?:date|final\s+(?:decision|determination|report)|decision|determination|report|order|email|e-mail"
    r"|letter|ombudsman)\b"
)

# A period that a policy, code or law sets, or that someone should have met, describes the rules of
# the complaint: "its complaints policy says it will respond within 20 working days", "the Code
# requires a stage 1 response within 10 working days", "it should have acknowledged the complaint
# within 5 working days". Only in the same sentence, and never when the verb's subject is "we", "I"
# or "you": "under the Scheme we require the landlord to provide it within 15 working days".
# Nor when the rest of the sentence speaks to "you": "the Scheme says we can ask you to provide ...".
_REST_NOT_TO_YOU = r"(?:(?!\b(?:you|we|please)\b)[^.;!?])*$"
# Someone other than the council: "she", "Mr Osei", "the resident".
_SOMEONE_ELSE = (
    r"she|he|they|(?:mr|ms|mrs|miss)\s+\w+|the\s+(?:resident|complainant|owner|tenant|applicant|parent)"
)
_DESCRIBED_RULE = re.compile(
    r"(?:\b(?:policy|policies|procedures?|scheme|code|guidance|regulations|standards?|charter|legislation"
    r"|contracts?|agreements?|leases?|protocol"
    r"|law|act\s+[0-9]{4})\b,?(?:\s+[^\s.;:]+){0,6}?(?<!\bwe)(?<!\bi)(?<!\byou)"
    r"\s+(?:says?|said|states?|stated|requires?|required|commits?|committed|sets?\s+out|allows?|promise[sd]?"
    # "review its procedures so that applications are allocated within four weeks": a standard to meet.
    rf"|gives?|appl(?:y|ies|ied)\s+to|so\s+that|to\s+(?:ensure|make\s+sure)|expects?)\b){_REST_NOT_TO_YOU}"
    # A rule to remind staff of: "remind officers that reviews must be decided within eight weeks".
    r"|\bremind(?:s|ed|ing)?\s+(?:its\s+|all\s+|relevant\s+)?(?:officers|staff|employees|caseworkers|managers|teams?)"
    rf"\s+(?:that|of)\b{_REST_NOT_TO_YOU}"
    r"|\b(?:should\s+have|ought\s+to\s+have|(?:was|were)\s+(?:supposed|meant)\s+to)\b[^.;!?]*$"
    # What is usual, not what is asked: "Our usual period for a request like this is 15 working days".
    # ("please reply within the usual period of 20 working days" asks).
    r"|\b(?:our|the)\s+(?:usual|normal)\s+(?:period|timescale|time\s+limit|deadline)\b[^.;!?]*?"
    rf"\b(?:is|are|was|would\s+be)\b{_REST_NOT_TO_YOU}"
    # Someone else's right: "she could appeal to the Tribunal within two months".
    rf"|\b(?:{_SOMEONE_ELSE}|a\s+parent|parents|an\s+applicant|applicants)\s+(?:can|could|may|might)\b"
    rf"{_REST_NOT_TO_YOU}"
)
# The headings of a decision's sections on the law, guidance and policies, and on what happened
# (the Ombudsmen's own: "Relevant law and guidance", "Legal and administrative background", "What
# should have happened", "Summary of events"). A period there is never the council's deadline: "The
# panel should send its report within 5 working days" under "Law and guidance" states the procedure.
# A section ends at the next line that looks like a heading: short, capitalised, unpunctuated.
# Matched on the text after a line break ("\n" is put before the text for its first line): a pattern
# that starts with "^" in MULTILINE mode is tried at every position of the text, which cost a tenth of
# find_deadlines on a 9 KB letter.
_LAW_HEADING = re.compile(
    r"\n[ \t]*(?:relevant\s+|the\s+)?(?:law|legislation|legal\s+background"
    r"|legal\s+and\s+administrative\s+background|(?:legal|relevant)\s+(?:and\s+)?(?:policy\s+)?framework"
    r"|law\s+and\s+guidance|law,\s+guidance\s+and\s+polic(?:y|ies)"
    r"|polic(?:y|ies)(?:\s+and\s+procedures?)?|what\s+should\s+have\s+happened|what\s+happened"
    r"|(?:background\s+and\s+)?summary\s+of\s+events|chronology)[ \t]*:?[ \t]*(?=\n|\Z)"
)
_ANY_HEADING = re.compile(r"^[ \t]*[A-Z][^\n.:;,!?]{0,58}[ \t]*:?[ \t]*$", re.MULTILINE)
# In a decision, its background (the Housing Ombudsman's "Background": the landlord's policies).
_DECISION_LAW_HEADING = re.compile(r"\n[ \t]*background[ \t]*:?[ \t]*(?=\n|\Z)")
# The words of a heading that starts another part of the letter, after its law or its history:
# "How I considered this complaint", "What I found", "Assessment and findings", "Agreed action",
# "Orders", "What we need from you". Any other heading is taken for one of the section's own.
_ENDS_LAW_SECTION = re.compile(
    r"action|order|recommend|remed|decision|determination|finding|found|conclu|consider|analys|assess"
    r"|view|request|need|information|evidence|next|happen|putting things right|should do|comment|respon"
    r"|investigat|injustice|fault|summary"
)

# A request in so many words, which the narrower tests (a law section, a draft's proposals) give way to.
_ASKS_YOU = re.compile(
    r"\b(?:please|kindly|grateful|(?:can|could|would)\s+you|(?:we|i)\s+(?:ask|need|require|request))\b"
)

# Any date, and what asks for something now rather than recalling that it was asked (see _tells_the_past).
_ANY_DATE = re.compile(_DATE)
_ASKS_NOW = re.compile(
    r"\b(?:please|kindly|grateful|now|must|need|needs|will|shall|should(?!\s+have)|(?:can|could|would)\s+you"
    r"|(?:is|are)\s+(?:\w+ly\s+)?(?:ordered|requested|required|asked|invited|expected)"
    r"|ask\s+(?:you|the\s+council|the\s+landlord|that)"
    r"|(?:we|i)\s+(?:(?:now|also|still)\s+)?(?:ask|require|request|expect|need|want|would\s+(?:also\s+)?like)"
    # Not "if the Council had assessed her within 28 days, ...": what would have happened.
    r"|if(?!\s+(?:[\w'’]+\s+){0,3}had\b)|unless)\b"
)
# What happened, told in the past tense: "the landlord assessed her application within eight weeks",
# "no one came back within 2 days", "the review was not completed within 8 weeks", "had the Council
# assessed within 28 days". A subject and a verb in the past, or any "was", "were" or "had" before the
# period in its sentence, when nothing in it asks for something now (_ASKS_NOW). "Agreed" is left out:
# "the Council agreed to pay £200 within one month" is how a decision gives its remedy.
_PAST_VERB = (
    r"(?!agreed\b|accepted\b|wanted\b|needed\b|hoped\b)"
    r"(?:\w+ed|came|went|took|sent|made|gave|did|paid|met|told|wrote|spoke|rang|saw|found|kept|held|heard|left|got)"
)
_TELLS_THE_PAST = re.compile(
    r"\b(?:she|he|it|they|i|we|one|council|landlord|resident|complainant|tenant|applicant|officers?|contractor"
    rf"|panel|(?:mr|ms|mrs|miss)\s+\w+)\s+(?:\w+ly\s+|then\s+|also\s+|later\s+)?{_PAST_VERB}\b"
    r"|\b(?:was|were|had|has\s+not|have\s+not|did\s+not|failed\s+to|never)\b"
)

# Outside a report or decision, what a law says is the background: "Under the Traffic Management Act
# 2004 ... the council must decide them within 56 days". In a public report "Under section 30 of the
# Local Government Act 1974, the Council must ... within two weeks" is this report's deadline.
_UNDER_THE_LAW = re.compile(
    r"\bunder\s+(?:section\s+\S+\s+of\s+)?the\s+(?:[^\s.;:]+\s+){0,6}?(?:act|regulations|code|guidance|law)\b"
    + _REST_NOT_TO_YOU
)

# "the 10 working days required by the Code", "the 65 working day maximum": a rule named, not set.
# And someone else's right named after its period: "if the Council did not reply within two months
# she could appeal to the Tribunal".
_RULE_NAMED = re.compile(
    r"\s+(?:maximum|limit|target|timescale)\b"
    r"|\s+(?:required|set|allowed|specified|prescribed|laid\s+down)\s+(?:out\s+)?(?:by|in|under)\b"
    rf"|,?\s+(?:{_SOMEONE_ELSE})\s+(?:can|could|may|might)\b"
)

# Outside a decision, a remedy proposed ("I propose that within one month of my final decision the
# Council apologises, and that within three months it reviews ...") sets nothing yet: the sentence names
# the final decision its periods count from, or proposes.
_PROPOSED = re.compile(
    r"\b(?:of|from|after)\s+(?:the\s+date\s+of\s+)?(?:the|my|our)\s+final\s+(?:decision|determination|report)\b"
    r"|\b(?:i|we)\s+(?:propose|am\s+proposing|are\s+proposing|(?:am|are)\s+minded\s+to)\b"
)

# Outside a decision, a period in what the council "agreed to" recalls the decision's remedy.
_AGREED = re.compile(r"\bagreed\s+to\b")

# A period counted from "the final decision" (or "the report") starts from this letter only when it is
# the decision (or the report).
_OF_DECISION = re.compile(
    r"\s+(?:of|from|after)\s+(?:the\s+date\s+of\s+)?(?:(?:(?:receipt\s+of|receiving)\s+)?"
    r"(?:the|my|our|this|its)\s+(?:final\s+)?(?:decision|determination|report)|(?:receipt\s+of|receiving)\s+it)\b"
)

# A numbered or bulleted item: "1.", "2)", "(3)", "3.1", "a)", "(b)", "(iv)", "Order 2:", "•", "-".
_ITEM_START = re.compile(
    r"[ \t]*(?:(?:order|recommendation|action)\s+[0-9]{1,2}[a-z]?\s*[:.)–-]"
    r"|\(?[0-9]{1,2}(?:\.[0-9]{1,2})?[.)]|\([0-9]{1,2}\)|[0-9]{1,2}\.[0-9]{1,2}"
    r"|\(?(?:[a-z]|ii|iii|iv|vi|vii|viii|ix|xi|xii|xiii)[.)]"
    r"|[•◦▪‣·*–—-])(?=\s)",
    re.IGNORECASE,
)

_NUMBERED = re.compile(r"[0-9]|order|recommendation|action", re.IGNORECASE)
_BARE_NUMBER = re.compile(r"[ \t]*[0-9]{1,2}[ \t]+[A-Z]")

# A sentence ends at . ! or ? followed by space and something that can start a sentence.
_SENTENCE_END = re.compile(r"[.!?]+[\"'”’)\]]*(?=\s+[\"'“‘(\[]?[A-Z0-9£•])")
_LAST_WORD = re.compile(r"(\w+)$")
_ABBREVIATIONS = frozenset(
    {"mr", "mrs", "ms", "dr", "no", "nos", "para", "paras", "st", "cllr", "ref", "cf", "vs", "approx"}
    | {"tel", "prof", "rev", "sec", "pp", "fig", "art", "reg", "ch", "ie", "eg"}
    | {"jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec"}
)
# Short lines outside a list are headings, salutations, addresses and signatures,
# not the wrapped middle of a paragraph, whose lines run to the wrap width.
_HEADING_MAX_CHARS = 40


# ---------------------------------------------------------------------------
# The public function


def find_deadlines(
    text: str, *, letter_date: date, received: datetime, calendar: WorkingCalendar, is_decision: bool = True
) -> list[Deadline]:
    """Every deadline in ``text``, sorted by due date then position.

    ``letter_date`` is the London date of the letter's Date header (calendar
    periods count from it); ``received`` is when the council received it (an
    aware datetime; working-day periods count from its effective receipt date).
    Duplicates, the same due date for the same item or sentence, are given once;
    when an explicit date and a period give the same date for the same item the
    explicit one is kept. Never raises because of the text; raises
    ``CalendarError`` only for a naive ``received``, which is a caller's bug.

    ``is_decision`` says whether the letter is itself a decision: only then does a period
    "of the final decision", or in what the council "agreed to", count from it. In a chaser
    it recalls an earlier decision's remedy, long since due; in a draft, a remedy proposed.
    """
    if received.tzinfo is None or received.utcoffset() is None:
        raise CalendarError("received time must be timezone-aware")
    lowered = _lower(text)
    candidates = [
        *_explicit_candidates(lowered, letter_date),
        *_calendar_candidates(lowered, letter_date),
        *_working_day_candidates(lowered, received, calendar),
    ]
    if not candidates:
        return []
    # Only the items and sentences up to the last candidate are needed: a long letter's
    # text after its last date is never cut into units.
    units = _Units(text, until=max(candidate.start for candidate in candidates))
    law = _law_sections(text, lowered, is_decision=is_decision)
    chosen: dict[tuple[date, int], _Candidate] = {}
    for candidate in candidates:
        unit = units.index_of(candidate.start)
        key = (candidate.due, unit)
        held = chosen.get(key)
        if held is not None and not _better(candidate, held):
            continue  # checked only when it would count: a letter can repeat a phrase hundreds of times
        if law and _in_sections(law, candidate.start) and not _asked_of_the_council(lowered, candidate):
            continue
        lookback = max(units.start_of(unit), candidate.start - _REQUEST_LOOKBACK)
        if candidate.needs_request and (
            not _REQUEST.search(lowered, lookback, candidate.start)
            or _PROHIBITION.search(lowered, lookback, candidate.start)
        ):
            continue
        if (
            not is_decision
            and candidate.source == "relative"
            and (
                _OF_DECISION.match(lowered, candidate.end)
                or _AGREED.search(lowered, lookback, candidate.start)
                or _agreed_in_lead_in(lowered, units.lead_in(unit))
                or _proposed(lowered, _sentence_start(lowered, lookback, candidate.start), candidate.start)
            )
        ):
            continue
        if _NOT_THE_COUNCILS.search(lowered, lookback, candidate.start):
            continue
        if candidate.source == "relative" and not _set_by_this_letter(
            lowered, candidate, units.start_of(unit), letter_date, is_decision=is_decision
        ):
            continue
        chosen[key] = candidate
    deadlines: dict[tuple[date, str], tuple[int, Deadline]] = {}
    for (due, unit), candidate in sorted(chosen.items(), key=lambda item: item[1].start):
        summary = units.summary(unit, candidate.start)
        # Two units can collapse to the same text (a repeated sentence); the rule is one per (due, text).
        if (due, summary) not in deadlines:
            evidence = _collapse(text[candidate.start : candidate.end])
            deadlines[due, summary] = (candidate.start, Deadline(due, candidate.source, summary, evidence))
    ordered = sorted(deadlines.values(), key=lambda pair: (pair[1].due, pair[0]))
    return [deadline for _, deadline in ordered]


def _law_sections(text: str, lowered: str, *, is_decision: bool) -> list[tuple[int, int]]:
    """Where a decision sets out the law, guidance or policies, or what happened: from a heading
    such as "Law and guidance" or "Summary of events" (_LAW_HEADING; in a decision, "Background"
    too) to the next heading that starts another part of the letter (_ENDS_LAW_SECTION). Its own
    sub-headings ("The Ombudsman's role and powers", "Council tax discounts and recovery") do not
    end it; when no later heading starts another part, it ends at the next heading of any kind."""
    headings = (_LAW_HEADING, _DECISION_LAW_HEADING) if is_decision else (_LAW_HEADING,)
    from_line_break = "\n" + lowered
    starts = sorted(m.end() - 1 for pattern in headings for m in pattern.finditer(from_line_break))
    if not starts:
        return []
    any_heading = list(_ANY_HEADING.finditer(text, starts[0]))
    ending = [m.start() for m in any_heading if _ENDS_LAW_SECTION.search(m.group().lower())]
    anywhere = [m.start() for m in any_heading]
    sections = []
    for end in starts:  # each heading's line ends at ``end``; the section runs from there
        at = bisect_right(ending, end)
        if at < len(ending):
            sections.append((end, ending[at]))
            continue
        at = bisect_right(anywhere, end)
        sections.append((end, anywhere[at] if at < len(anywhere) else len(text)))
    return sections


def _in_sections(sections: list[tuple[int, int]], position: int) -> bool:
    """Whether ``position`` is in one of ``sections``, which are in order of start and of end."""
    at = bisect_right(sections, position, key=lambda section: section[0]) - 1
    return at >= 0 and position < sections[at][1]


def _agreed_in_lead_in(lowered: str, lead_in: tuple[int, int] | None) -> bool:
    """Whether a list's own line says what the council agreed to ("The council agreed to: • within one
    month, apologise ..."), read at its end: a bullet's period then recalls the remedy too."""
    if lead_in is None:
        return False
    start, end = lead_in
    return _AGREED.search(lowered, max(start, end - _REQUEST_LOOKBACK), end) is not None


def _proposed(lowered: str, sentence: int, position: int) -> bool:
    """Whether the sentence up to ``position`` proposes a remedy (see _PROPOSED) and asks nothing now:
    "on the orders we are proposing, please do so within 10 working days" asks for comments."""
    return (
        _PROPOSED.search(lowered, sentence, position) is not None
        and _ASKS_YOU.search(lowered, sentence, position) is None
    )


def _asked_of_the_council(lowered: str, candidate: _Candidate) -> bool:
    """Whether a period is counted from this letter, or its sentence asks the council for something
    ("please", "could you"): even under a heading such as "What happened" that is a request. In a
    section on the law "within six weeks of the decision" and "within 15 working days of receiving
    them" count from the events the law speaks of, so only this letter named as such counts."""
    if _counted_from(lowered, candidate, this_letter=_THIS_LETTER_ITSELF):
        return True
    sentence = _sentence_start(lowered, max(0, candidate.start - _REQUEST_LOOKBACK), candidate.start)
    return _ASKS_YOU.search(lowered, sentence, candidate.start) is not None


def _counted_from(
    lowered: str, candidate: _Candidate, this_letter: re.Pattern[str] = _THIS_LETTER
) -> bool | None:
    """Whether a period is counted from this letter, as ``this_letter`` names it (True), or from
    some other event (False); None when it names nothing it is counted from (see _COUNTED_FROM)."""
    counted_from = _COUNTED_FROM.match(lowered, candidate.end)
    if counted_from is None:
        return None
    return this_letter.match(lowered, counted_from.end()) is not None


def _set_by_this_letter(
    lowered: str, candidate: _Candidate, unit_start: int, letter_date: date, *, is_decision: bool
) -> bool:
    """Whether a period is one this letter sets, rather than a rule it describes or a past it recalls
    (see _COUNTED_FROM, _DESCRIBED_RULE, _RULE_NAMED and _tells_the_past). A period counted from this
    letter always is."""
    counted_from = _counted_from(lowered, candidate)
    if counted_from is not None:
        return counted_from
    if _RULE_NAMED.match(lowered, candidate.end):
        return False
    sentence = _sentence_start(
        lowered, max(unit_start, candidate.start - _SENTENCE_LOOKBACK), candidate.start
    )
    if _DESCRIBED_RULE.search(lowered, sentence, candidate.start) is not None:
        return False
    if not is_decision and _UNDER_THE_LAW.search(lowered, sentence, candidate.start) is not None:
        return False
    return not _tells_the_past(lowered, sentence, candidate, letter_date)


def _sentence_start(lowered: str, lookback: int, position: int) -> int:
    """Where the sentence holding ``position`` starts, looking no further back than ``lookback``."""
    ends = (lowered.rfind(end, lookback, position) for end in (". ", ".\n", "? ", "! ", "; "))
    return max([lookback, *(found + 2 for found in ends if found >= 0)])


def _tells_the_past(lowered: str, sentence: int, candidate: _Candidate, letter_date: date) -> bool:
    """Whether the sentence before a period tells what happened and asks nothing now: it is in the
    past tense (_TELLS_THE_PAST), or names a date before this letter. "On 10 September we asked the
    landlord to provide evidence within 15 working days" recalls an earlier request, "It decided to
    assess on 14 February 2025, within 6 weeks" what happened; "Further to my letter of 3 March,
    please provide it within 20 working days" and "If we have not received it within 5 working
    days, we will ..." ask now."""
    if _ASKS_NOW.search(lowered, sentence, candidate.start) is not None:
        return False
    if _TELLS_THE_PAST.search(lowered, sentence, candidate.start) is not None:
        return True
    for match in _ANY_DATE.finditer(lowered, sentence, candidate.start):
        past = _date_of(match, letter_date)
        if past is not None and past < letter_date:
            return True
    return False


def _lower(text: str) -> str:
    """A lower-case copy of ``text`` with every character at the same position.

    ``str.lower`` keeps positions unless a character lower-cases to two (the
    dotted capital I); then only ASCII letters are lowered, which is all the
    patterns need.
    """
    lowered = text.lower()
    if len(lowered) == len(text):
        return lowered
    return text.translate(_ASCII_LOWER)


_ASCII_LOWER = {code: code + 32 for code in range(ord("A"), ord("Z") + 1)}


def _starts_word(text: str, position: int) -> bool:
    """Whether a hit at ``position`` starts a word ("by", not the end of "nearby")."""
    return position == 0 or not text[position - 1].isalnum()


# ---------------------------------------------------------------------------
# Candidates: every phrase that sets a date, before grouping by item; all
# positions are in the text, all matching is on its lower-cased copy.


class _Candidate(NamedTuple):  # a NamedTuple: made hundreds of times per letter, and cheap to make
    start: int
    end: int
    due: date
    source: Source
    needs_request: bool = False


def _better(new: _Candidate, held: _Candidate) -> bool:
    """Whether ``new`` should replace ``held`` for the same due date and item."""
    if new.source != held.source:
        return new.source == "explicit"  # DESIGN: an explicit date wins over a period
    return new.start < held.start


def _explicit_candidates(lowered: str, letter_date: date) -> list[_Candidate]:
    found = []
    for match in _EXPLICIT.finditer(lowered):
        if not _starts_word(lowered, match.start()):
            continue
        due = _date_of(match, letter_date)
        # A letter cannot set a deadline before it was written: "we asked for this by
        # 2 March" in a chaser recalls an old deadline; the chaser's own is elsewhere.
        if due is None or due < letter_date:
            continue
        needs_request = match.group("cue") in ("before", "until")
        found.append(_Candidate(match.start(), match.end(), due, "explicit", needs_request))
    return found


def _date_of(match: re.Match[str], letter_date: date) -> date | None:
    """The date a match names, or None when it is not a real date."""
    year: int | None
    if match.group("d1"):
        day, month, year = int(match.group("d1")), _month(match.group("m1")), _int(match.group("y1"))
    elif match.group("d2"):
        day, month, year = int(match.group("d2")), _month(match.group("m2")), _int(match.group("y2"))
    elif match.group("d3"):
        day, month, year = int(match.group("d3")), int(match.group("m3")), int(match.group("y3"))
        if len(match.group("y3")) == 2:
            year += 2000
    elif match.group("d4"):
        day, month, year = int(match.group("d4")), int(match.group("m4")), int(match.group("y4"))
    else:
        day, month, year = int(match.group("d5")), int(match.group("m5")), None
    if month is None:
        return None
    if year is None:
        return _nearest_occurrence(day, month, letter_date)
    try:
        return date(year, month, day)
    except ValueError:  # 31/02/2026 and friends are not dates, and never an error
        return None


def _nearest_occurrence(day: int, month: int, letter_date: date) -> date | None:
    """The ``day`` ``month`` nearest the letter's date ("by 14 March").

    A chaser dated 16 February that says the reply "was due on 9 February" means
    last week, not next year: the nearest date is before the letter, so it is no
    deadline. "By 10 January" in a letter of 20 December is next year's.
    """
    around = []
    for year in (letter_date.year - 1, letter_date.year, letter_date.year + 1):
        try:
            around.append(date(year, month, day))
        except ValueError:  # 29 February outside a leap year
            continue
    if not around:
        return _next_occurrence(day, month, letter_date)
    return min(around, key=lambda candidate: (abs((candidate - letter_date).days), candidate < letter_date))


def _next_occurrence(day: int, month: int, letter_date: date) -> date | None:
    """The first ``day`` ``month`` on or after the letter's date ("by 29 February")."""
    # Eight years always reaches a leap year, for "by 29 February".
    for year in range(letter_date.year, letter_date.year + 9):
        try:
            candidate = date(year, month, day)
        except ValueError:
            continue
        if candidate >= letter_date:
            return candidate
    return None


def _month(name: str) -> int | None:
    return _MONTHS.get(name[:3])


def _int(digits: str | None) -> int | None:
    return int(digits) if digits else None


def _count(number: str | None, in_brackets: str | None) -> int | None:
    """The number in a period: the figure in brackets when there is one ("ten (10)")."""
    for raw in (in_brackets, number):
        if not raw:
            continue
        if raw.isascii() and raw.isdigit():
            return int(raw)
        value = _NUMBER_WORDS.get("".join(raw.split()).replace("-", ""))
        if value is not None:
            return value
    return None


def _calendar_candidates(lowered: str, letter_date: date) -> list[_Candidate]:
    found = []
    dues: dict[tuple[str, int], date | None] = {}  # relativedelta is slow and letters repeat themselves
    for match in _CALENDAR_PERIOD.finditer(lowered):
        if not _starts_word(lowered, match.start()):
            continue
        count = 1 if match.group("article") is not None else _count(match.group("n"), match.group("n2"))
        if count is None or not 0 < count <= _MAX_COUNT:
            continue
        unit = match.group("unit")
        kind = (
            "f" if unit.startswith("f") else "w" if unit.startswith("w") else "m" if "month" in unit else "d"
        )
        if (kind, count) not in dues:
            dues[kind, count] = _calendar_period_end(letter_date, kind, count)
        due = dues[kind, count]
        if due is not None:
            found.append(_Candidate(match.start(), match.end(), due, "relative"))
    return found


def _calendar_period_end(letter_date: date, kind: str, count: int) -> date | None:
    """``count`` fortnights, weeks, months or days after the letter's date, not moved off weekends."""
    try:
        if kind == "f":
            return letter_date + timedelta(days=14 * count)
        if kind == "w":
            return letter_date + timedelta(weeks=count)
        if kind == "m":
            # relativedelta keeps the day of the month and clamps at month end: 31 Jan + 1 month = 28 Feb.
            return letter_date + relativedelta(months=count)
        return letter_date + timedelta(days=count)
    except (OverflowError, ValueError):  # beyond year 9999
        return None


def _working_day_candidates(lowered: str, received: datetime, calendar: WorkingCalendar) -> list[_Candidate]:
    found = []
    dues: dict[int, date | None] = {}  # a letter repeats its periods; walk the calendar once for each
    for tail in _WORKING_DAYS_TAIL.finditer(lowered):
        end = tail.start()
        if not _starts_word(lowered, end):
            continue
        before = lowered[max(0, end - _WORKING_DAYS_LOOKBACK) : end][::-1]
        head = _WORKING_DAYS_HEAD_BACKWARDS.match(before)
        if head is None:
            continue
        number, in_brackets = head.group("n"), head.group("n2")
        count = _count(number[::-1], in_brackets[::-1] if in_brackets else None)
        if count is None or not 0 < count <= _MAX_COUNT:
            continue
        if _PAST_PERIOD_BACKWARDS.match(before, head.end()) or (
            head.group("lead") is None and _PAST_PERIOD_AFTER.match(lowered, tail.end())
        ):
            continue
        if count not in dues:
            dues[count] = _working_days_after_receipt(received, count, calendar)
        due = dues[count]
        if due is not None:
            # The backwards match begins at "working days"; the phrase starts where it ends.
            start = end - head.end()
            found.append(_Candidate(start, tail.end(), due, "relative"))
    return found


def _working_days_after_receipt(received: datetime, count: int, calendar: WorkingCalendar) -> date | None:
    try:
        return calendar.add_working_days(calendar.effective_receipt_date(received), count)
    except (CalendarError, OverflowError):  # only at the far end of the calendar
        return None


# ---------------------------------------------------------------------------
# Units: the numbered items and sentences a deadline belongs to


class _Units:
    """The text cut into items (numbered or bulleted, kept whole) and sentences.

    With ``until``, only the units that start at or before it are cut: the
    answers for every position up to ``until`` are the same as for the whole text.
    """

    def __init__(self, text: str, until: int | None = None) -> None:
        self._text = text
        self._spans = [
            (span, is_item)
            for start, end, is_item in _blocks(text, until)
            for span in _split(text, start, end, is_item)
        ]
        if not self._spans:
            self._spans = [((0, len(text)), False)]
        self._starts = [start for (start, _), _ in self._spans]
        self._wholes: dict[int, str] = {}  # each unit collapsed once, however many deadlines it holds
        self._first_items: list[int] | None = None

    def index_of(self, position: int) -> int:
        """The unit holding ``position``."""
        return max(bisect_right(self._starts, position) - 1, 0)

    def start_of(self, index: int) -> int:
        """Where unit ``index`` starts."""
        return self._starts[index]

    def lead_in(self, index: int) -> tuple[int, int] | None:
        """The line that introduces the list holding item ``index`` ("The council agreed to:"), as
        (start, end); None when the unit is no item or its list has no such line."""
        if self._first_items is None:  # the first item of each run of items, found once
            first: list[int] = []
            for at, (_, is_item) in enumerate(self._spans):
                first.append(first[at - 1] if is_item and at > 0 and self._spans[at - 1][1] else at)
            self._first_items = first
        before = self._first_items[index] - 1
        if not self._spans[index][1] or before < 0:
            return None
        (start, end), _ = self._spans[before]
        return (start, end) if self._text[start:end].rstrip().endswith(":") else None

    def summary(self, index: int, position: int) -> str:
        """Unit ``index`` with its whitespace collapsed, at most MAX_TEXT_CHARS long.

        An item too long to give whole (a numbered paragraph of a decision) is
        given as its marker and the sentence holding ``position``, so the order
        itself is never cut off.
        """
        (start, end), is_item = self._spans[index]
        whole = self._wholes.get(index)
        if whole is None:
            whole = self._wholes[index] = _collapse(self._text[start:end])
        if not is_item or len(whole) <= MAX_TEXT_CHARS:
            return _shorten(whole)
        sentences = _split(self._text, start, end, is_item=False)
        starts = [sentence_start for sentence_start, _ in sentences]
        at = max(bisect_right(starts, position) - 1, 0)
        sentence = _collapse(self._text[sentences[at][0] : sentences[at][1]])
        if at == 0:
            return _shorten(sentence)
        marker = _ITEM_START.match(self._text, start)
        prefix = _collapse(marker.group(0)) + " … " if marker is not None else ""
        return _shorten(prefix + sentence)


def _blocks(text: str, until: int | None = None) -> list[tuple[int, int, bool]]:
    """(start, end, is_item) for each paragraph or list item; with ``until``, only those that
    start at or before it (each block depends only on the lines before it, so they are the same).

    A block ends at a blank line, before a line that starts an item, after a line
    ending in a colon ("The landlord is ordered to:"), and, outside items, after
    a short line (a heading or a salutation). Inside an item a short line is just
    where the item wrapped. A bullet or lettered item also ends when a finished
    sentence is followed by a new one at the bullet's margin: bullets are short,
    and the paragraph after a list often follows it without a blank line, while
    numbered paragraphs of a decision run to several sentences.

    A blank line does not end a block whose last line stops mid-sentence when the
    next line goes on in lower case: mail converted from HTML often puts a blank
    line after every wrapped line.
    """
    blocks: list[tuple[int, int, bool]] = []
    start: int | None = None
    gap: int | None = None  # where the blank lines after the current block began
    is_item = is_bullet = False
    margin = 0
    previous = ""
    position = 0
    for line in text.splitlines(keepends=True):
        line_start = position
        position += len(line)
        stripped = line.strip()
        if not stripped:
            if start is not None and gap is None:
                gap = line_start
            continue
        indent = len(line) - len(line.lstrip(" \t"))
        marker = _ITEM_START.match(line)
        if start is not None:
            if gap is not None:
                if marker is not None or not stripped[0].islower() or previous[-1] in ".!?:;":
                    blocks.append((start, gap, is_item))
                    start = None
            elif (
                marker is not None
                or previous.endswith(":")
                or (not is_item and len(previous) < _HEADING_MAX_CHARS)
                or (is_bullet and previous[-1] in ".;!?" and indent <= margin and stripped[0].isupper())
            ):
                blocks.append((start, line_start, is_item))
                start = None
        gap = None
        if start is None:
            if until is not None and blocks and line_start > until:
                return blocks
            start, margin = line_start, indent
            # "1 The landlord must ..." with no dot is a numbered row (often a table turned
            # into text) only where a block starts anyway, so a wrapped "by\n14 May" never splits.
            is_item = marker is not None or _BARE_NUMBER.match(line) is not None
            is_bullet = marker is not None and not _NUMBERED.match(marker.group(0).lstrip(" \t("))
        previous = stripped
    if start is not None:
        blocks.append((start, len(text) if gap is None else gap, is_item))
    return blocks


def _split(text: str, start: int, end: int, is_item: bool) -> list[tuple[int, int]]:
    """An item whole; any other block sentence by sentence."""
    if is_item:
        return [(start, end)]
    spans = []
    sentence_start = start
    for match in _SENTENCE_END.finditer(text, start, end):
        word = _LAST_WORD.search(text, max(sentence_start, match.start() - 12), match.start())
        if word is not None and (len(word.group(1)) == 1 or word.group(1).casefold() in _ABBREVIATIONS):
            continue  # "Mr. Smith", "No. 5", "e.g. The"
        spans.append((sentence_start, match.end()))
        sentence_start = match.end()
    if sentence_start < end:
        spans.append((sentence_start, end))
    return spans


def _collapse(text: str) -> str:
    return " ".join(text.split())


def _shorten(text: str) -> str:
    if len(text) <= MAX_TEXT_CHARS:
        return text
    cut = text[: MAX_TEXT_CHARS - 1]
    space = cut.rfind(" ")
    if space > MAX_TEXT_CHARS // 2:  # end on a whole word unless that loses too much
        cut = cut[:space]
    return cut.rstrip() + "…"
