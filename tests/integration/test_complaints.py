"""The council's complaints register: importing it, and new cases landing on the original service area.

On SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from inboxbot.adapters.db.models import Complaint, Event
from inboxbot.config import RegisterSettings
from inboxbot.service.complaints import RegisterFileError, import_register, read_register
from inboxbot.service.unit_of_work import UnitOfWork
from tests.integration.test_register import AREAS, cases, take
from tests.support.cli import run

Capsys = pytest.CaptureFixture[str]
SETTINGS = RegisterSettings()

# Mixed-case area names, one bad date (line 4), one row with no reference (line 5),
# one area the directory does not know (line 6), a blank line (line 7).
REGISTER = (
    "Reference,Service area,Subject,Date received,Date closed\r\n"
    "CAS-211034,adult social care,Care package charges,03/02/2025,14/03/2025\r\n"
    "cas-204518, HOUSING REPAIRS ,Damp in the bathroom,2025-01-20,\r\n"
    "CAS-300001,Council Tax,Single person discount,31/02/2025,\r\n"
    ",Council Tax,No reference here,01/03/2025,\r\n"
    "CAS-300002,Parks,Overgrown verge,05/03/2025,\r\n"
    "\r\n"
    "CAS-300003,Council Tax,Summons costs,06/03/2025,10/03/2025\r\n"
)


def clock() -> datetime:
    return datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def write_register(tmp_path: Path, text: str = REGISTER, name: str = "register.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))  # Excel's BOM
    return path


def import_file(uow: UnitOfWork, path: Path, *, dry_run: bool = False) -> tuple[int, int, int, list[str]]:
    result = import_register(
        uow, read_register(path, SETTINGS), SETTINGS, clock, known_areas=list(AREAS), dry_run=dry_run
    )
    return result.added, result.updated, result.unchanged, result.problems


def complaints(uow: UnitOfWork) -> dict[str, Complaint]:
    with uow:
        found = {c.council_ref: c for c in uow.session.scalars(select(Complaint))}
        uow.session.expunge_all()
        return found


def test_importing_the_register(uow: UnitOfWork, tmp_path: Path) -> None:
    added, updated, unchanged, problems = import_file(uow, write_register(tmp_path))
    assert (added, updated, unchanged) == (4, 0, 0)
    assert problems == [
        "line 4: CAS-300001: Date received '31/02/2025' is not a date (expected like 02/03/2026); "
        "row skipped",
        "line 5: no 'Reference'; row skipped",
        "line 6: CAS-300002: service area 'Parks' is not in the directory; imported as written",
    ]
    stored = complaints(uow)
    assert set(stored) == {"CAS-211034", "CAS-204518", "CAS-300002", "CAS-300003"}
    first = stored["CAS-211034"]
    assert first.service_area == "Adult Social Care"  # the directory's spelling
    assert first.subject == "Care package charges"
    assert (first.received_on, first.closed_on) == (date(2025, 2, 3), date(2025, 3, 14))
    assert first.imported_at == clock()
    assert stored["CAS-204518"].service_area == "Housing Repairs"
    assert (stored["CAS-204518"].received_on, stored["CAS-204518"].closed_on) == (date(2025, 1, 20), None)
    assert stored["CAS-300002"].service_area == "Parks"
    with uow:
        [event] = uow.session.scalars(select(Event).where(Event.action == "complaints imported")).all()
        assert event.detail == {"added": 4, "updated": 0, "unchanged": 0, "problems": 3}


def test_a_reimport_updates_what_changed(uow: UnitOfWork, tmp_path: Path) -> None:
    import_file(uow, write_register(tmp_path))
    changed = REGISTER.replace("Care package charges,03/02/2025,14/03/2025", "Care charges,03/02/2025,")
    changed = changed.replace("31/02/2025", "28/02/2025")
    added, updated, unchanged, problems = import_file(uow, write_register(tmp_path, changed, "again.csv"))
    assert (added, updated, unchanged) == (1, 1, 3)
    assert len(problems) == 2
    stored = complaints(uow)
    assert (stored["CAS-211034"].subject, stored["CAS-211034"].closed_on) == ("Care charges", None)
    assert stored["CAS-300001"].received_on == date(2025, 2, 28)


def test_a_dry_run_writes_nothing(uow: UnitOfWork, tmp_path: Path) -> None:
    added, _, _, problems = import_file(uow, write_register(tmp_path), dry_run=True)
    assert added == 4
    assert len(problems) == 3
    assert complaints(uow) == {}
    with uow:
        assert uow.session.scalars(select(Event)).all() == []


def test_a_reference_twice_in_one_file_counts_once(uow: UnitOfWork, tmp_path: Path) -> None:
    text = "Reference,Service area\nCAS-100001,Council Tax\nCAS-100001,Housing Repairs\n"
    added, _, _, problems = import_file(uow, write_register(tmp_path, text))
    assert added == 1
    assert problems == ["line 3: CAS-100001 is already on line 2; row skipped"]
    assert complaints(uow)["CAS-100001"].service_area == "Council Tax"


def test_values_too_long_for_the_table_are_reported(uow: UnitOfWork, tmp_path: Path) -> None:
    text = f"Reference,Service area\nCAS-{'1' * 70},Council Tax\nCAS-100002,{'x' * 101}\n"
    added, _, _, problems = import_file(uow, write_register(tmp_path, text))
    assert added == 0
    assert [p.split(":")[0] for p in problems] == ["line 2", "line 3"]
    assert all(p.endswith("is too long; row skipped") for p in problems)


def test_a_missing_optional_column_keeps_what_is_stored(uow: UnitOfWork, tmp_path: Path) -> None:
    import_file(uow, write_register(tmp_path))
    added, updated, unchanged, _ = import_file(
        uow, write_register(tmp_path, "reference , SERVICE AREA\nCAS-211034,Adult Social Care\n", "b.csv")
    )
    assert (added, updated, unchanged) == (0, 0, 1)
    assert complaints(uow)["CAS-211034"].subject == "Care package charges"


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (None, "file not found"),
        (b"", "the file is empty"),
        (b"Ref,Service area\nCAS-100001,Council Tax\n", "no 'Reference' column (register.council_ref)"),
        (b"Reference\nCAS-100001\n", "no 'Service area' column (register.service_area)"),
        (b"Reference,Service area\n\xff\xfe\x00oops\n", "not utf-8-sig text"),
    ],
)
def test_an_unreadable_register_is_one_line(tmp_path: Path, content: bytes | None, fragment: str) -> None:
    path = tmp_path / "register.csv"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(RegisterFileError, match=re.escape(fragment)) as caught:
        read_register(path, SETTINGS)
    assert "\n" not in str(caught.value)


def test_a_notification_lands_on_the_original_complaints_service_area(
    uow: UnitOfWork, tmp_path: Path
) -> None:
    # The notification's words say Council Tax; the register says the complaint was Adult Social Care.
    import_file(uow, write_register(tmp_path, "Reference,Service area\nCAS-211034,ADULT SOCIAL CARE\n"))
    take(uow, "lgsco-notification-01.eml")
    [case] = cases(uow)
    assert (case.council_ref, case.service_area) == ("CAS-211034", "Adult Social Care")
    with uow:
        opened = uow.session.scalars(select(Event).where(Event.action == "case opened")).one()
        assert opened.detail is not None
        assert opened.detail["why"] == "the complaints register for CAS-211034"


def test_a_register_area_the_directory_lacks_sends_the_case_to_triage(
    uow: UnitOfWork, tmp_path: Path
) -> None:
    import_file(uow, write_register(tmp_path, "Reference,Service area\nCAS-211034,Parks\n"))
    take(uow, "lgsco-notification-01.eml")
    [case] = cases(uow)
    assert case.service_area is None


def test_without_a_register_row_the_keywords_still_decide(uow: UnitOfWork, tmp_path: Path) -> None:
    import_file(uow, write_register(tmp_path, "Reference,Service area\nCAS-999999,Adult Social Care\n"))
    take(uow, "lgsco-notification-01.eml")
    [case] = cases(uow)
    assert case.service_area == "Council Tax"


# The command line.

DIRECTORY = """
[classification]
authserv_ids = ["mx.northmere.gov.uk"]
council_domains = ["northmere.gov.uk"]
[[directory.service_areas]]
name = "Council Tax"
task_recipients = ["ctax.complaints@northmere.gov.uk"]
head_of_service = "Head of Revenues <revenues.head@northmere.gov.uk>"
slt_director = "Director of Resources <resources.director@northmere.gov.uk>"
keywords = ["council tax", "single person discount", "summons"]
[[directory.service_areas]]
name = "Adult Social Care"
task_recipients = ["asc.complaints@northmere.gov.uk"]
head_of_service = "Head of Adult Social Care <asc.head@northmere.gov.uk>"
slt_director = "Director of People <people.director@northmere.gov.uk>"
keywords = ["care package", "carer", "care and support"]
[[directory.service_areas]]
name = "Housing Repairs"
task_recipients = ["repairs.complaints@northmere.gov.uk"]
head_of_service = "Head of Repairs <repairs.head@northmere.gov.uk>"
slt_director = "Director of Place <place.director@northmere.gov.uk>"
keywords = ["repair", "damp", "mould"]
"""


@pytest.fixture
def configured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database_url: str) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("INBOXBOT_DATABASE_URL", database_url)
    config = tmp_path / "inboxbot.toml"
    config.write_text(DIRECTORY)
    monkeypatch.setenv("INBOXBOT_CONFIG", str(config))
    return config


@pytest.mark.usefixtures("configured")
def test_cases_import_from_the_command_line(capsys: Capsys, tmp_path: Path) -> None:
    path = write_register(tmp_path)
    dry = run(capsys, "cases", "import", str(path), "--dry-run")
    assert dry.code == 0, dry.err
    assert dry.out.splitlines()[0] == "dry run, nothing kept: 4 added, 0 updated, 0 unchanged, 3 problems"
    first = run(capsys, "cases", "import", str(path))
    assert first.code == 0, first.err
    lines = first.out.splitlines()
    assert lines[0] == "4 added, 0 updated, 0 unchanged, 3 problems"
    assert [line.split(":")[0] for line in lines[1:]] == ["line 4", "line 5", "line 6"]
    again = run(capsys, "cases", "import", str(path))
    assert again.out.splitlines()[0] == "0 added, 0 updated, 4 unchanged, 3 problems"

    # The listing still works, and a notification for CAS-211034 lands on Adult Social Care.
    assert run(capsys, "cases").code == 0
    mail = tmp_path / "mail"
    mail.mkdir()
    (mail / "n.eml").write_bytes(
        (Path(__file__).parents[1] / "corpus/lgsco-notification-01.eml").read_bytes()
    )
    assert run(capsys, "ingest", "--source", f"dir:{mail}").code == 0
    listed = [json.loads(line) for line in run(capsys, "cases", "--json").out.splitlines()]
    assert [(c["council_ref"], c["service_area"]) for c in listed] == [("CAS-211034", "Adult Social Care")]


@pytest.mark.usefixtures("configured")
@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["cases", "import", "nowhere.csv"], "nowhere.csv: file not found"),
        (["cases", "import"], "usage: inboxbot cases import FILE.csv"),
        (["cases", "export", "x.csv"], "unknown action 'export'"),
        (["cases", "--dry-run"], "--dry-run goes with"),
    ],
)
def test_bad_import_commands(capsys: Capsys, args: list[str], fragment: str) -> None:
    result = run(capsys, *args)
    assert result.code == 2
    assert fragment in result.err
    assert len(result.err.strip().splitlines()) == 1


@pytest.mark.usefixtures("configured")
def test_a_missing_column_from_the_command_line(capsys: Capsys, tmp_path: Path) -> None:
    path = write_register(tmp_path, "Ref,Area\nCAS-100001,Council Tax\n")
    result = run(capsys, "cases", "import", str(path))
    assert result.code == 2
    assert result.err.strip() == (
        f"error: {path}: no 'Reference' column (register.council_ref); the file has: 'Ref', 'Area'"
    )
