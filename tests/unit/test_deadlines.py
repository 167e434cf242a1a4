"""Deadlines found in the words of LGSCO and Housing Ombudsman letters.

Unless a test says otherwise the letter is dated Monday 9 March 2026 and was
received at 10:00 GMT that day, so day 0 for working days is 9 March. Counting
on from there: 10 working days is Monday 23 March, 18 is Thursday 2 April, and
then Good Friday (3 April) and Easter Monday (6 April) are skipped, so 19 is
Tuesday 7 April and 20 is Wednesday 8 April.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inboxbot.domain.calendar import CalendarError, WorkingCalendar
from inboxbot.domain.classify import classify
from inboxbot.domain.deadlines import MAX_TEXT_CHARS, Deadline, _Units, find_deadlines
from inboxbot.domain.kinds import MessageKind
from inboxbot.domain.mailtext import parse
from tests.support.judgement import judgement

CAL = WorkingCalendar.build()
LETTER = date(2026, 3, 9)
RECEIVED = datetime(2026, 3, 9, 10, 0, tzinfo=UTC)


def deadlines(
    text: str, *, letter_date: date = LETTER, received: datetime = RECEIVED, calendar: WorkingCalendar = CAL
) -> list[Deadline]:
    return find_deadlines(text, letter_date=letter_date, received=received, calendar=calendar)


def d(iso: str) -> date:
    return date.fromisoformat(iso)


PHRASES_WITH_A_DEADLINE = [
    # Working-day periods count from day 0, the effective date of receipt.
    ("Please provide the information we have asked for within 20 working days.", "2026-04-08", "relative"),
    ("Please respond within ten (10) working days of the date of this email.", "2026-03-23", "relative"),
    ("We would be grateful for your comments within 10 working days.", "2026-03-23", "relative"),
    ("Please respond within 10 working days after receiving this letter.", "2026-03-23", "relative"),
    ("Please send us your response within 5 business days.", "2026-03-16", "relative"),
    ("The council should provide this within twenty working days.", "2026-04-08", "relative"),
    ("Please reply in 15 working days.", "2026-03-30", "relative"),
    ("Please acknowledge the complaint within five working days.", "2026-03-16", "relative"),
    ("You have 30 working days to provide the evidence.", "2026-04-22", "relative"),
    ("Please comment on the draft decision within twenty-one working days.", "2026-04-09", "relative"),
    (
        "Provide the documents within 20 (twenty) working days of receipt of this letter.",
        "2026-04-08",
        "relative",
    ),
    ("The landlord must respond within the next 18 working days.", "2026-04-02", "relative"),
    ("Please confirm receipt within one working day.", "2026-03-10", "relative"),
    ("Please reply within 25 working days.", "2026-04-15", "relative"),
    # Counted from this letter, or with "we" or "you" as the subject, a period near a rule is still set.
    ("The Code requires you to respond within 10 working days of this letter.", "2026-03-23", "relative"),
    ("Under the Scheme we require the landlord to send it within 15 working days.", "2026-03-30", "relative"),
    ("The Scheme says we can ask you to send these within 15 working days.", "2026-03-30", "relative"),
    ("Please send it within 10 working days of receiving this email.", "2026-03-23", "relative"),
    ("Further to my letter of 3 March 2026, please reply within 20 working days.", "2026-04-08", "relative"),
    ("As I explained on 2 March, I need the information within 10 working days.", "2026-03-23", "relative"),
    ("You have until 4pm on 20 March 2026.", "2026-03-20", "explicit"),
    ("I would also like the file, which was mislaid, within the next fortnight.", "2026-03-23", "relative"),
    ("Please reply within the next week.", "2026-03-16", "relative"),
    ("If we have not received it within 5 working days, we will issue a CHFO.", "2026-03-16", "relative"),
    ("The Council has not replied, so please send it within 5 working days.", "2026-03-16", "relative"),
    ("The Council agreed to pay Mr X £200 within one month.", "2026-04-09", "relative"),
    # Calendar periods count from the letter's date and are not moved off weekends or bank holidays.
    (
        "The landlord is ordered to apologise within four weeks of the date of this determination.",
        "2026-04-06",
        "relative",
    ),
    ("The landlord must pay the compensation within 4 weeks.", "2026-04-06", "relative"),
    ("The council should apologise within one month of the final decision.", "2026-04-09", "relative"),
    (
        "The council should review its procedures within three months of the final decision.",
        "2026-06-09",
        "relative",
    ),
    ("Pay the resident £250 within 28 days.", "2026-04-06", "relative"),
    ("Please reply within 14 calendar days of this letter.", "2026-03-23", "relative"),
    ("Please reply within a fortnight.", "2026-03-23", "relative"),
    ("The landlord should provide a repair schedule within six weeks.", "2026-04-20", "relative"),
    ("Please send the care plan within a month.", "2026-04-09", "relative"),
    ("We ask the Council to review its policy within three months.", "2026-06-09", "relative"),
    ("The council must consider the report within 3 months.", "2026-06-09", "relative"),
    (
        "The landlord must do this no later than four weeks from the date of this determination.",
        "2026-04-06",
        "relative",
    ),
    ("The council should complete the works within 12 months.", "2027-03-09", "relative"),
    # Explicit dates after a deadline cue, in every format the Ombudsmen use.
    ("The landlord is ordered to pay the resident £650 no later than 14 May 2026.", "2026-05-14", "explicit"),
    ("Please send your comments by 14th April 2026.", "2026-04-14", "explicit"),
    ("Please respond by Friday 27 March 2026.", "2026-03-27", "explicit"),
    # The review is the deadline, not the standard the reviewed procedure is to meet.
    (
        "Within three months the Council will review its procedures so that applications are allocated "
        "within four weeks.",
        "2026-06-09",
        "relative",
    ),
    ("Can we have it by Fri 20/3 pls?", "2026-03-20", "explicit"),
    ("Please respond by 14 Apr 2026.", "2026-04-14", "explicit"),
    ("Please respond by April 14, 2026.", "2026-04-14", "explicit"),
    ("Please respond by 14/04/2026.", "2026-04-14", "explicit"),
    ("Please respond by 14/4/26.", "2026-04-14", "explicit"),
    ("Please respond by 14.04.2026.", "2026-04-14", "explicit"),
    ("Please respond by 14-04-2026.", "2026-04-14", "explicit"),
    ("Please respond by 2026-04-14.", "2026-04-14", "explicit"),
    ("Please let us have your comments by Friday 20 March.", "2026-03-20", "explicit"),
    ("Please respond by 01-Apr-2026.", "2026-04-01", "explicit"),
    ("Provide evidence of compliance not later than 1 May 2026.", "2026-05-01", "explicit"),
    ("The council must respond on or before 30 April 2026.", "2026-04-30", "explicit"),
    ("Please reply by close of business on Friday 17 April 2026.", "2026-04-17", "explicit"),
    ("Please reply by 5pm on 17 April 2026.", "2026-04-17", "explicit"),
    ("Please reply by 12 noon on 2 April 2026.", "2026-04-02", "explicit"),
    ("Please reply by 17:00 on Thursday 2 April 2026.", "2026-04-02", "explicit"),
    ("The deadline for your comments is 24 April 2026.", "2026-04-24", "explicit"),
    ("There is a deadline of 24 April 2026 for this.", "2026-04-24", "explicit"),
    ("Deadline: 24/04/2026", "2026-04-24", "explicit"),
    ("Your response is due on 24 April 2026.", "2026-04-24", "explicit"),
    ("The information is due by 24 April 2026.", "2026-04-24", "explicit"),
    ("Your evidence must be received by 24 April 2026.", "2026-04-24", "explicit"),
    ("Please respond before 10 April 2026.", "2026-04-10", "explicit"),
    ("Please send it by the 14th of March 2026.", "2026-03-14", "explicit"),  # a Saturday, kept as written
    ("PLEASE RESPOND NO LATER THAN 14 MAY 2026.", "2026-05-14", "explicit"),
    # The Ombudsman acting, but only if the council misses the date: still the council's deadline.
    ("We will need the information within 20 working days.", "2026-04-08", "relative"),
    ("If we do not receive the evidence by 27 April 2026, we will issue a CHFO.", "2026-04-27", "explicit"),
    (
        "We will write to you again if we do not hear from you within 10 working days.",
        "2026-03-23",
        "relative",
    ),
    ("We will consider any comments we receive by 3 April 2026.", "2026-04-03", "explicit"),
]


@pytest.mark.parametrize(("phrase", "due", "source"), PHRASES_WITH_A_DEADLINE)
def test_phrase_sets_one_deadline(phrase: str, due: str, source: str) -> None:
    assert [(found.due, found.source) for found in deadlines(phrase)] == [(d(due), source)]


NOT_DEADLINES = [
    # No year and the nearest such date is before the letter of 9 March: a past date, not one a year away.
    "Please reply by 5 March.",
    "The response was due on 9 February but we have not received it.",
    "Under the Complaint Handling Code landlords must respond to stage 1 complaints within 10 working days.",
    "The stage 2 response was sent 34 working days after the escalation request.",
    "Please do not publish it or share it outside the Council before 00:01 on Thursday 12 March 2026.",
    "The landlord issued its stage 1 response 45 working days late.",
    "The stage 1 response took 41 working days, well beyond the 10 working days the Code allows.",
    # The complainant's review window (tests/corpus/README.md).
    "You can ask for a review within a month.",
    "If Mr Ibekwe has new information he can ask us to review it within one month.",
    "Either party may request a review of our decision within one month.",
    "On 12 January the resident reported a leak to the landlord.",
    "Thank you for your letter of 3 February 2026.",
    "We have considered the council's response dated 4 March.",
    "This relates to the complaint made on 1/2/2026.",
    "The resident has lived at the property since 2019.",
    "Before 2024 the council used a different repairs contractor.",
    "Before 10 April 2026 the council had not inspected the property.",
    "We received your response on 2 March 2026.",
    "We wrote to you on 16 February 2026 about this complaint.",
    "If you have any questions please call us on 0300 061 0614.",
    "Please call 0300 111 3000 by 5pm.",
    "The council offered £1,250.00 in compensation.",
    "Our reference: 25 004 217. Housing Ombudsman reference 202512345.",
    "Please quote 24-012-345 by return.",
    "9 March 2026",
    "Date: 9 March 2026",
    "The council took 45 working days to respond to the stage 2 complaint.",
    "The landlord said it would finish the works by 2025.",
    "Please respond by 31/02/2026.",  # no such day
    "We asked you to provide the information by 2 March 2026.",  # before this letter: an old deadline
    "The repair was completed at 14:30 on 3 March 2026.",
    "The repairs were delayed by 14 weeks.",
    "A payment of £14.03.2026 is not a date.",
    # The Ombudsman's own timescales are not the council's deadlines.
    "We will normally update Mrs Brannigan within 10 working days of receiving your response.",
    "We aim to respond to correspondence within 10 working days.",
    "I aim to make a decision within 12 weeks but will keep you updated.",
    "We expect to issue our draft decision by 3 April 2026.",
    "The case is waiting to be allocated. We currently expect that to happen within 12 weeks.",
    # Periods counted from some other event are rules about such events.
    "The Council must decide whether to carry out an assessment within 6 weeks of a request.",
    "A stage 3 review panel should be held within 30 working days of the request.",
    "Landlords must investigate potential hazards within 10 working days of becoming aware of them.",
    "It told her it would review the case “within 6 weeks” of the sheets being returned.",
    # Periods that a policy, code or law sets, or that should have been met.
    "Its complaints policy says it will respond within 20 working days.",
    "The Code requires a stage 1 response within 10 working days.",
    "The landlord's ASB policy, which you provided, says it will contact the resident within 3 working days.",
    "The Council's highways policy says Category 2 defects should be repaired within 28 days.",
    "Under the Code it should have acknowledged the complaint within 5 working days.",
    "It took 29 weeks, far longer than the 65 working day maximum.",
    "Its stage 2 response took 47 working days, against the 20 working days set by the Code.",
    "It did not respond within the 10 working days required by the Complaint Handling Code.",
    # Periods in a sentence about a date before the letter recall the past, unless it asks for something now.
    "On 10 February we asked the landlord to provide evidence within 15 working days.",
    "We wrote on 18 February 2026 asking for further information, within 10 working days.",
    "It decided to assess on 14 February 2025, within 6 weeks.",
    # Periods in what happened, told in the past tense, and in someone else's rights.
    "The landlord assessed her application within eight weeks.",
    "No one came back within 2 days on any occasion.",
    "Had the landlord inspected within 10 working days, the fan would have been fitted.",
    "The Council has not completed the review within 8 weeks.",
    "The representations were decided within 56 days.",
    "She could appeal to the SEND Tribunal within two months.",
    "If the Council did not reply within two months she could appeal to the Tribunal.",
    "A parent can appeal within two months of the final plan being issued.",
    "Its complaints policy promises a stage 1 response within 10 working days.",
    "The law gives an applicant 21 days, and the Council must normally complete a review within 8 weeks.",
    "Awaab's Law applies to social landlords: the landlord must investigate within 10 working days.",
    "It then took 14 weeks and did not respond at stage 2 for 38 working days.",
    "Stage 2 took seven months when the statutory timescale is 25 working days (extendable to 65).",
    "The lift maintenance contract requires the contractor to restore service within 5 working days.",
    "Our usual period for a request like this is 15 working days, but I have set a fixed date instead.",
    "The Council will review its procedures so that applications are allocated within four weeks.",
    "The landlord's rent was reduced by 1/2 for the months without heating.",
    "On balance, if the Council had assessed Mrs J within 28 days, she would have had care by May 2025.",
    "The Pre-Action Protocol expects a landlord to respond to a letter of claim within 20 working days.",
    "b) remind officers that suitability reviews must be decided within eight weeks; and",
    "",
]


@pytest.mark.parametrize("text", NOT_DEADLINES)
def test_dates_that_are_not_deadlines_are_ignored(text: str) -> None:
    assert deadlines(text) == []


@pytest.mark.parametrize(
    ("phrase", "evidence"),
    [
        ("The landlord must pay £650 no later than 14 May 2026.", "no later than 14 May 2026"),
        ("Please reply within 20 working days.", "within 20 working days"),
        ("Please reply within ten (10) working days.", "within ten (10) working days"),
        ("You have 30 working days to reply.", "30 working days"),
        ("Please reply by close of business on Friday 14 March.", "by close of business on Friday 14 March"),
        ("Apologise within four weeks\nof the date of this determination.", "within four weeks"),
        ("Please respond no later\nthan 14 May 2026.", "no later than 14 May 2026"),
        ("Pay by 14 Mar. 2026.", "by 14 Mar. 2026"),
        ("The information is due by 24 April 2026.", "due by 24 April 2026"),
        ("Your comments are due on Friday 24 April 2026.", "due on Friday 24 April 2026"),
        ("Please respond before 10 April 2026.", "before 10 April 2026"),
        ("Please reply within the usual period of 20 working days.", "20 working days"),
    ],
)
def test_evidence_is_the_phrase_matched(phrase: str, evidence: str) -> None:
    [found] = deadlines(phrase)
    assert found.evidence == evidence


# ---------------------------------------------------------------------------
# Receipt time, bank holidays and month ends


@pytest.mark.parametrize(
    ("received_utc", "due"),
    [
        # Friday 27 March: 16:30 UTC is 16:30 GMT, before the cut-off, so day 0 is that Friday;
        # five working days later skips Good Friday and Easter Monday.
        ("2026-03-27T16:30:00", "2026-04-07"),
        # Monday 30 March, after the clocks went forward: 16:30 UTC is 17:30 BST, after the
        # 17:00 cut-off, so day 0 is Tuesday 31 March.
        ("2026-03-30T16:30:00", "2026-04-09"),
        # 15:59 UTC is 16:59 BST, still before the cut-off: day 0 is Monday 30 March.
        ("2026-03-30T15:59:00", "2026-04-08"),
    ],
)
def test_working_days_count_from_the_london_receipt_day(received_utc: str, due: str) -> None:
    received = datetime.fromisoformat(received_utc).replace(tzinfo=UTC)
    [found] = deadlines("Please respond within 5 working days.", received=received)
    assert found.due == d(due)


@pytest.mark.parametrize(
    ("letter_date", "phrase", "due"),
    [
        (date(2026, 12, 20), "Please reply by 10 January.", date(2027, 1, 10)),  # nearest is next year's
        (date(2026, 9, 20), "Please reply by 14 March.", date(2027, 3, 14)),  # 175 days on, 190 back
        (date(2026, 3, 9), "Please reply by 9 March.", date(2026, 3, 9)),  # the letter's own day
        (date(2026, 11, 27), "Please reply by 29 February.", date(2028, 2, 29)),  # the next leap day
    ],
)
def test_a_date_without_a_year_is_the_nearest_one(letter_date: date, phrase: str, due: date) -> None:
    assert [found.due for found in deadlines(phrase, letter_date=letter_date)] == [due]


@pytest.mark.parametrize(
    "text",
    [
        "Pay Mrs Khan £350 within one month of the final decision.",
        "Review the procedure within three months of the date of our determination.",
        "In our final decision the Council agreed to pay £500 within three months.",
        "The Council should respond within 15 working days of receiving the report.",
    ],
)
def test_a_remedy_period_counts_from_the_letter_only_in_a_decision(text: str) -> None:
    assert [found.source for found in deadlines(text)] == ["relative"]
    assert find_deadlines(text, letter_date=LETTER, received=RECEIVED, calendar=CAL, is_decision=False) == []


def test_a_decisions_sections_on_the_law_and_on_what_happened_set_no_deadlines() -> None:
    text = (
        "Law and guidance\n4. The stage 2 investigation should be completed within 25 working days.\n"
        "The panel should send its report within 5 working days.\n"
        "Summary of events\n5. The landlord assessed her application within eight weeks.\n"
        "What happened\n6. The Council was at fault. Please send any comments within 10 working days.\n"
        "Orders\n7. Within four weeks of the date of this report, the landlord must pay £100.\n"
    )
    assert [found.evidence for found in deadlines(text)] == ["within 10 working days", "Within four weeks"]


def test_a_law_section_runs_on_over_its_own_sub_headings() -> None:
    text = (
        "Legal and administrative background\nThe Ombudsman's role and powers\n"
        "7. We investigate complaints about 'maladministration'.\n"
        "Council tax discounts and recovery\n"
        "8. If the council does not reply within two months, the person can appeal to the Tribunal.\n"
        "9. If the person does not pay within seven days, they lose the right to pay by instalments.\n"
        "10. The panel reports, and the council must respond within 15 working days of receiving them.\n"
        "11. A judicial review must be brought within six weeks of the decision.\n"
        "How I considered this complaint\n12. I read the Council's response.\n"
        "Agreed action\n13. Within one month of my final decision, the Council will apologise.\n"
    )
    assert [found.evidence for found in deadlines(text)] == ["Within one month"]


def test_in_a_decision_its_background_sets_no_deadlines() -> None:
    text = (
        "Background\n4. The landlord's repairs policy classes roof leaks as urgent, to be attended within 5 "
        "working days.\nAssessment and findings\n5. The landlord was slow.\n"
        "Orders\n6. Within four weeks of the date of this report, the landlord must pay £100.\n"
    )
    assert [found.evidence for found in deadlines(text)] == ["Within four weeks"]
    # Outside a decision "Background" is any letter's heading: a request under it still counts.
    request = "Background\nYou asked us to look again. Send us the notes within 5 working days.\n"
    drafted = find_deadlines(request, letter_date=LETTER, received=RECEIVED, calendar=CAL, is_decision=False)
    assert [found.evidence for found in drafted] == ["within 5 working days"]


def test_a_draft_proposes_remedies_and_asks_for_comments() -> None:
    proposed = (
        "I propose that within one month of my final decision the Council apologises, "
        "and that within three months it reviews its procedure."
    )
    minded = (
        "The orders we are minded to make include a payment of £1,200 within four weeks of the final "
        "report, and a review of the landlord's ASB case management within twelve weeks."
    )
    comments = "To comment on the orders we propose, please do so within 10 working days."
    for text, found in ((proposed, []), (minded, []), (comments, ["within 10 working days"])):
        drafted = find_deadlines(text, letter_date=LETTER, received=RECEIVED, calendar=CAL, is_decision=False)
        assert [deadline.evidence for deadline in drafted] == found


def test_what_a_law_says_is_background_outside_a_report_or_decision() -> None:
    text = "Under the Traffic Management Act 2004 the council must decide representations within 56 days."
    assert find_deadlines(text, letter_date=LETTER, received=RECEIVED, calendar=CAL, is_decision=False) == []
    assert [found.evidence for found in deadlines(text)] == ["within 56 days"]


def test_outside_a_decision_a_request_still_sets_its_deadline() -> None:
    text = "The Council agreed to pay £500. Please send us evidence within 10 working days of this email."
    found = find_deadlines(text, letter_date=LETTER, received=RECEIVED, calendar=CAL, is_decision=False)
    assert [item.evidence for item in found] == ["within 10 working days"]


def test_a_list_of_what_the_council_agreed_to_is_recalled_outside_a_decision() -> None:
    text = (
        "Our final decision was issued on 15 July 2026. The council agreed to:\n\n"
        "• within one month, apologise to Ms Quinn;\n\n• within three months, review its procedure.\n\n"
        "Please send evidence within 5 working days of this email.\n"
    )
    chaser = find_deadlines(text, letter_date=LETTER, received=RECEIVED, calendar=CAL, is_decision=False)
    assert [found.evidence for found in chaser] == ["within 5 working days"]
    assert len(deadlines(text)) == 3


def test_a_chaser_recalling_the_remedy_is_due_by_its_own_request_only() -> None:
    raw = (
        "From: Case Officer <case.officer@lgo.org.uk>\nTo: ombudsman@northmere.gov.uk\n"
        "Subject: Complaint 25 015 880 - remedy overdue\nDate: Wed, 25 Feb 2026 08:50:00 +0000\n\n"
        "We have not received evidence that the Council has complied with our final decision.\n"
        "The Council agreed to pay Ms Ward £350 within one month of the final decision.\n"
        "Please send us the evidence within 10 working days of this email.\n"
    ).encode()
    result = classify(parse(raw), judgement())
    assert result.kind is MessageKind.CHASER_FIRST
    assert [(item.due, item.evidence) for item in result.deadlines] == [
        (date(2026, 3, 11), "within 10 working days")
    ]


def test_working_days_skip_christmas_and_the_substitute_boxing_day() -> None:
    received = datetime(2026, 12, 21, 9, 0, tzinfo=UTC)  # Monday before Christmas
    text = "Please acknowledge within 5 working days. Please send the file within 10 working days."
    found = deadlines(text, letter_date=date(2026, 12, 21), received=received)
    # 25 December is a Friday and Boxing Day a Saturday, so Monday 28 December is the substitute day.
    assert [item.due for item in found] == [date(2026, 12, 30), date(2027, 1, 7)]


def test_a_message_received_after_the_cut_off_on_christmas_eve_counts_from_the_29th() -> None:
    received = datetime(2026, 12, 24, 17, 30, tzinfo=UTC)
    [found] = deadlines(
        "Please reply within 5 working days.", letter_date=date(2026, 12, 24), received=received
    )
    assert found.due == date(2027, 1, 6)  # 29, 30, 31 December, then 4, 5, 6 January


def test_council_closure_days_are_skipped() -> None:
    shutdown = WorkingCalendar.build([date(2026, 12, 29), date(2026, 12, 30), date(2026, 12, 31)])
    received = datetime(2026, 12, 23, 9, 0, tzinfo=UTC)
    [found] = deadlines(
        "Please reply within 2 working days.",
        letter_date=date(2026, 12, 23),
        received=received,
        calendar=shutdown,
    )
    assert found.due == date(2027, 1, 4)


@pytest.mark.parametrize(
    ("letter_date", "phrase", "due"),
    [
        ("2026-01-31", "within one month", "2026-02-28"),
        ("2028-01-31", "within one month", "2028-02-29"),
        ("2026-01-31", "within 3 months", "2026-04-30"),
        ("2026-03-31", "within one month", "2026-04-30"),
        ("2026-08-31", "within six months", "2027-02-28"),
        ("2026-01-15", "within one month", "2026-02-15"),
    ],
)
def test_months_keep_the_day_of_the_month_clamped_to_the_month_end(
    letter_date: str, phrase: str, due: str
) -> None:
    [found] = deadlines(
        f"The council should apologise {phrase} of the final decision.", letter_date=d(letter_date)
    )
    assert found.due == d(due)


def test_calendar_periods_count_from_the_letter_and_working_days_from_receipt() -> None:
    text = "Please apologise within four weeks. Please send the records within 20 working days."
    found = deadlines(text, letter_date=date(2026, 3, 5))  # dated Thursday, received Monday 9 March
    assert [(item.due, item.evidence) for item in found] == [
        (date(2026, 4, 2), "within four weeks"),
        (date(2026, 4, 8), "within 20 working days"),
    ]


def test_a_chaser_gives_its_own_deadline_not_the_one_it_recalls() -> None:
    text = (
        "We wrote to you on 16 February 2026 asking for information by 2 March 2026. We have\n"
        "not yet received a response. Please provide the information within 5 working days,\n"
        "or we will consider issuing a Complaint Handling Failure Order."
    )
    assert [(item.due, item.evidence) for item in deadlines(text)] == [
        (date(2026, 3, 16), "within 5 working days")
    ]


def test_a_year_less_date_is_the_first_one_on_or_after_the_letter() -> None:
    assert [f.due for f in deadlines("Please reply by 9 March.")] == [date(2026, 3, 9)]
    assert [f.due for f in deadlines("Please reply by 29 February.")] == [date(2028, 2, 29)]


# ---------------------------------------------------------------------------
# Orders, recommendations and sentences

HOS_DETERMINATION = """\
Dear Ms Smith,

Orders

1. The landlord is ordered to apologise to the resident in writing within four weeks of the
date of this determination.

2. The landlord is ordered to pay the resident £650 compensation no later than 14 May 2026,
made up of:
   a) £400 for the distress and inconvenience caused;
   b) £250 for its complaint handling failures.

3. The landlord is ordered to inspect the property and provide the resident and the
Ombudsman with a schedule of works within 20 working days.

The landlord should reply to this Service to provide evidence of compliance with these orders.

Yours sincerely
Housing Ombudsman Service
"""


def test_each_order_of_a_determination_gets_its_own_deadline() -> None:
    found = deadlines(HOS_DETERMINATION)
    assert [(item.due, item.source, item.evidence) for item in found] == [
        (date(2026, 4, 6), "relative", "within four weeks"),
        (date(2026, 4, 8), "relative", "within 20 working days"),
        (date(2026, 5, 14), "explicit", "no later than 14 May 2026"),
    ]
    assert found[0].text == (
        "1. The landlord is ordered to apologise to the resident in writing within four weeks "
        "of the date of this determination."
    )
    assert found[1].text.startswith("3. The landlord is ordered to inspect the property")
    assert found[1].text.endswith("schedule of works within 20 working days.")
    # The order stops where its list of parts begins.
    assert found[2].text == (
        "2. The landlord is ordered to pay the resident £650 compensation no later than 14 May 2026, "
        "made up of:"
    )


LGSCO_RECOMMENDATIONS = """\
Agreed action

To remedy the injustice caused, the Council has agreed to:
a) apologise to Mrs X and pay her £300 for the distress caused within one month of the final decision;
b) review its procedures for assessing care needs within three months of the final decision; and
(c) provide us with evidence it has complied by 30 June 2026.
"""


def test_each_recommendation_of_a_decision_gets_its_own_deadline() -> None:
    found = deadlines(LGSCO_RECOMMENDATIONS)
    assert [(item.due, item.text[:2]) for item in found] == [
        (date(2026, 4, 9), "a)"),
        (date(2026, 6, 9), "b)"),
        (date(2026, 6, 30), "(c"),
    ]


def test_order_labels_and_bullets_are_items() -> None:
    text = (
        "Order 1: The landlord must apologise within 4 weeks.\n"
        "Order 2: The landlord must pay £100 within 4 weeks.\n"
        "• Please send us evidence by 30 April 2026.\n"
        "(i) Review the repairs policy within 3 months.\n"
    )
    found = deadlines(text)
    assert [item.text for item in found] == [
        "Order 1: The landlord must apologise within 4 weeks.",
        "Order 2: The landlord must pay £100 within 4 weeks.",
        "• Please send us evidence by 30 April 2026.",
        "(i) Review the repairs policy within 3 months.",
    ]


def test_a_paragraph_straight_after_a_bulleted_list_is_not_part_of_the_last_bullet() -> None:
    text = (
        "Final decision: the Council should, within one month of the date of my final decision:\n"
        "- apologise to Mr Y;\n"
        "- pay him £500 for the distress caused.\n"
        "Within three months of my final decision the Council should review its\n"
        "procedures and send us evidence of this.\n"
    )
    assert [(item.due, item.text) for item in deadlines(text)] == [
        (
            date(2026, 4, 9),
            "Final decision: the Council should, within one month of the date of my final decision:",
        ),
        (
            date(2026, 6, 9),
            "Within three months of my final decision the Council should review its procedures "
            "and send us evidence of this.",
        ),
    ]


def test_a_blank_line_after_every_wrapped_line_does_not_cut_the_sentence() -> None:
    # Mail converted from HTML often has a blank line after each line it wrapped.
    text = (
        "The Council must give public notice of the report within two weeks of receiving the report,\n\n"
        "make copies\n\n"
        "available free of charge at one or more of its offices.\n\n"
        "Please also tell us by 30 April 2026 what action it has taken.\n"
    )
    found = deadlines(text)
    assert [item.text for item in found] == [
        "The Council must give public notice of the report within two weeks of receiving the report, "
        "make copies available free of charge at one or more of its offices.",
        "Please also tell us by 30 April 2026 what action it has taken.",
    ]


def test_numbered_table_rows_without_a_dot_are_items() -> None:
    text = (
        "No. Order Timescale\n\n"
        "1 The landlord must apologise to Mrs Quinn.\n"
        "Within four weeks\n\n"
        "2 The landlord must review its repairs contract.\n"
        "Within six weeks\n"
    )
    assert [item.text for item in deadlines(text)] == [
        "1 The landlord must apologise to Mrs Quinn. Within four weeks",
        "2 The landlord must review its repairs contract. Within six weeks",
    ]


def test_a_date_at_the_start_of_a_wrapped_line_stays_with_its_sentence() -> None:
    text = "Please send us the complete case file and the repair records no later than\n14 May 2026.\n"
    [found] = deadlines(text)
    assert (
        found.text
        == "Please send us the complete case file and the repair records no later than 14 May 2026."
    )


def test_in_prose_the_sentence_is_the_unit() -> None:
    text = (
        "We have decided to investigate Mr. Smith's complaint. Please send us the case file "
        "within 20 working days. Please also tell us, by 20 March 2026, who will be our contact."
    )
    found = deadlines(text)
    assert [(item.due, item.text) for item in found] == [
        (date(2026, 3, 20), "Please also tell us, by 20 March 2026, who will be our contact."),
        (date(2026, 4, 8), "Please send us the case file within 20 working days."),
    ]


def test_the_same_period_twice_for_the_same_request_is_one_deadline() -> None:
    text = "Please provide the records within 20 working days, and in any case within 20 working days."
    assert len(deadlines(text)) == 1


def test_the_same_period_for_two_requests_is_two_deadlines() -> None:
    text = "Please send the file within 20 working days. Please send the photos within 20 working days."
    found = deadlines(text)
    assert [item.text for item in found] == [
        "Please send the file within 20 working days.",
        "Please send the photos within 20 working days.",
    ]


def test_an_explicit_date_and_a_period_on_the_same_day_give_one_explicit_deadline() -> None:
    [found] = deadlines("Please reply within 20 working days, that is by 8 April 2026.")
    assert (found.due, found.source, found.evidence) == (date(2026, 4, 8), "explicit", "by 8 April 2026")


def test_an_explicit_date_and_a_different_period_are_both_kept() -> None:
    found = deadlines("Please reply within 10 working days and no later than 14 May 2026.")
    assert [(item.due, item.source) for item in found] == [
        (date(2026, 3, 23), "relative"),
        (date(2026, 5, 14), "explicit"),
    ]


def test_sorted_by_due_date_then_position() -> None:
    text = "Please pay by 14 May 2026. Please apologise by 1 April 2026. Please visit by 1 April 2026."
    found = deadlines(text)
    assert [(item.due, item.text) for item in found] == [
        (date(2026, 4, 1), "Please apologise by 1 April 2026."),
        (date(2026, 4, 1), "Please visit by 1 April 2026."),
        (date(2026, 5, 14), "Please pay by 14 May 2026."),
    ]


def test_text_is_cut_to_the_limit() -> None:
    long_sentence = (
        "Please provide " + "the records of every repair and inspection, " * 20 + "within 20 working days."
    )
    [found] = deadlines(long_sentence)
    assert len(found.text) <= MAX_TEXT_CHARS
    assert found.text.startswith("Please provide the records")


def test_a_long_numbered_paragraph_gives_the_sentence_with_the_deadline() -> None:
    paragraph = (
        "4. "
        + "The landlord failed to respond to the resident's reports of damp and mould. " * 6
        + "The landlord "
        "must now inspect the property within 20 working days."
    )
    [found] = deadlines(paragraph)
    assert found.text == "4. … The landlord must now inspect the property within 20 working days."


def test_positions_survive_characters_that_lower_case_to_two() -> None:
    [found] = deadlines("İİİ İstanbul office: please respond by 14 May 2026.")
    assert found.evidence == "by 14 May 2026"


def test_a_naive_receipt_time_is_a_caller_bug() -> None:
    with pytest.raises(CalendarError):
        deadlines("within 20 working days", received=datetime(2026, 3, 9, 10, 0))  # noqa: DTZ001


# ---------------------------------------------------------------------------
# Robustness: any text, any size

FRAGMENTS = [
    "by ",
    "no later than ",
    "before ",
    "on or before ",
    "deadline: ",
    "due on ",
    "within ",
    "in ",
    "please ",
    "the next ",
    "ten (10) ",
    "twenty-one ",
    "20 ",
    "0 ",
    "999 ",
    "31 ",
    "29 ",
    "February ",
    "Mar. ",
    "Friday ",
    "5pm on ",
    "working days",
    "business day ",
    "weeks ",
    "a month ",
    "calendar days ",
    "14/03/2025",
    "31/02/2026",
    "2026-02-30",
    "9999-12-31",
    "14.3.25",
    "0300 061 0614",
    "£1,250.00",
    "25 004 217",
    "202512345",
    ". ",
    ".\n",
    "\n\n",
    "\n1. ",
    "\n(a) ",
    "\n• ",
    "Order 2: ",
    "İ",
    "\u00a0",
    "\u2028",
]


def check_invariants(text: str, found: list[Deadline], letter_date: date = LETTER) -> None:
    flat = " ".join(text.split())
    for item in found:
        assert isinstance(item.due, date)
        assert not isinstance(item.due, datetime)
        assert date.fromordinal(item.due.toordinal()) == item.due
        assert item.source in ("explicit", "relative")
        assert len(item.text) <= MAX_TEXT_CHARS
        assert item.evidence
        assert item.evidence in flat
    assert [item.due for item in found] == sorted(item.due for item in found)
    assert all(item.due >= letter_date for item in found if item.source == "explicit")
    assert len({(item.due, item.text) for item in found}) == len(found)


@settings(max_examples=300)
@given(
    text=st.text(),
    letter_date=st.dates(),
    received=st.datetimes(
        min_value=datetime(1900, 1, 1),  # noqa: DTZ001 - hypothesis wants naive bounds
        max_value=datetime(9999, 12, 1),  # noqa: DTZ001
        timezones=st.just(UTC),
    ),
)
def test_any_text_never_raises(text: str, letter_date: date, received: datetime) -> None:
    found = find_deadlines(text, letter_date=letter_date, received=received, calendar=CAL)
    check_invariants(text, found, letter_date)


@settings(max_examples=300)
@given(
    text=st.lists(st.sampled_from(FRAGMENTS) | st.text(max_size=3), max_size=30).map("".join),
    letter_date=st.dates(min_value=date(1, 1, 1), max_value=date(9999, 12, 31)),
)
def test_deadline_like_text_never_raises(text: str, letter_date: date) -> None:
    found = find_deadlines(text, letter_date=letter_date, received=RECEIVED, calendar=CAL)
    check_invariants(text, found, letter_date)


@pytest.mark.parametrize(
    "text",
    [
        "by " * 7_000,
        "1" * 20_000,
        "1 " * 10_000,
        "within " * 3_000,
        "by 14/03/2025 " * 1_500,
        "1.2.3.4.5." * 2_000,
        "within twenty twenty-one (twenty ( " * 600,
        "1 working days " * 1_300,
        "deadline for a a a a a a " * 800,
        "(" * 20_000,
        " " * 20_000,
        "\n" * 20_000,
        "1. a\n" * 4_000,
        "A. " * 7_000,
        "by 14 March by May by Friday by 5pm on " * 500,
    ],
    ids=lambda text: repr(text[:16]),
)
def test_large_hostile_text_is_handled(text: str) -> None:
    # Not timed, so it cannot flake on a busy machine; a pattern that backtracked
    # catastrophically would hang here instead of finishing in milliseconds.
    check_invariants(text, deadlines(text))


def test_a_twenty_kilobyte_letter() -> None:
    filler = (
        "The resident complained to the landlord about damp and mould in the property on 12 January 2025, "
        "and the landlord did not respond within its published timescales. Please call 0300 111 3000. "
    )
    text = filler * 60 + HOS_DETERMINATION + filler * 60
    assert len(text) > 20_000
    assert [item.due for item in deadlines(text)] == [date(2026, 4, 6), date(2026, 4, 8), date(2026, 5, 14)]


_UNIT_LINES = st.sampled_from(
    [
        "",
        "   ",
        "1. The council should apologise to Mr X.",
        "2) Pay £200 by 14 March 2026",
        "a. review the case",
        "- a bullet;",
        "• Provide the records.",
        "The landlord is ordered to:",
        "Dear Sir",
        "and it goes on in lower case, mid sentence",
        "We ask that you reply within 20 working days. Mr. Smith agrees. No. 5 is done.",
        "12 The landlord must reply",
        "  indented text that wraps here",
        "Kind regards",
    ]
)


@settings(max_examples=300)
@given(lines=st.lists(_UNIT_LINES | st.text(max_size=12), max_size=25), data=st.data())
def test_units_cut_short_answer_as_the_whole_text(lines: list[str], data: st.DataObject) -> None:
    # find_deadlines cuts the text into units only up to its last candidate: for every
    # position up to there, the answers must be the ones the whole text gives.
    text = "\n".join(lines)
    until = data.draw(st.integers(min_value=0, max_value=len(text)))
    whole, cut = _Units(text), _Units(text, until=until)
    for position in range(until + 1):
        unit = whole.index_of(position)
        assert cut.index_of(position) == unit
        assert cut.start_of(unit) == whole.start_of(unit)
        assert cut.summary(unit, position) == whole.summary(unit, position)


def test_units_are_cut_only_as_far_as_needed() -> None:
    text = "Please reply by 14 March 2026.\n\n" + "Case note: the resident called.\n\n" * 1_000
    assert len(_Units(text, until=10)._spans) < 3 < len(_Units(text)._spans)
