"""Reading replies to the bot's own mail."""

from __future__ import annotations

import pytest

from inboxbot.domain.replies import AreaNamed, TaskDone, read_reply

SUBJECT = "RE: [Case 25 004 217] [Task T7QK2M] Provide the information: reply by Mon 30 Mar 2026"


@pytest.mark.parametrize(
    ("body", "note"),
    [
        ("done", ""),
        ("Done.\n\nThanks, Priya", ""),
        ("\n\n  DONE - care plan and chronology attached\n", "care plan and chronology attached"),
        ("Completed: sent to the Ombudsman today", "sent to the Ombudsman today"),
    ],
)
def test_done_on_the_first_line_closes_the_task(body: str, note: str) -> None:
    assert read_reply(SUBJECT, body) == TaskDone("T7QK2M", note)


@pytest.mark.parametrize(
    "body",
    [
        "Not done yet, we need another week",
        "I have done part of it",
        "Can you tell me what is needed?\ndone",
    ],
)
def test_anything_else_is_not_done(body: str) -> None:
    assert read_reply(SUBJECT, body) is None


def test_a_token_is_needed() -> None:
    assert read_reply("RE: Complaint 25 004 217", "done") is None


def test_ret_names_the_service_area() -> None:
    reply = read_reply("RE: [Case 25 011 863] A message needs a person", "Area: Housing Repairs\n\nJo")
    assert reply == AreaNamed("25 011 863", "Housing Repairs")
