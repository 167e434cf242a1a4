"""The council's complaints register: importing its CSV export.

An Ombudsman notification is about an ORIGINAL complaint the council already
handled; the register says which service area that was, so the new case goes
there (see :mod:`inboxbot.service.register`).

Choices, so a re-import is predictable:

- Rows are matched by council reference, stripped and upper-cased (as the
  classifier finds references). A row with no reference or a date that cannot
  be read is reported and skipped; every other row goes in.
- A service area is matched to the directory's names ignoring case and stored
  with the directory's spelling. A name the directory does not know is stored
  as written and reported: the register is the council's record, and the area
  may be added to the directory later. Until then a new case for that
  complaint waits in triage instead of going to nobody.
- A column the file does not have leaves what is stored alone; an empty cell
  clears it.
- A reference given twice in one file: the first row counts, later ones are
  reported and skipped.
- The whole file is one transaction; ``dry_run`` does the same work and keeps nothing.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from inboxbot.adapters.db.models import Complaint
from inboxbot.config import RegisterSettings
from inboxbot.service import audit
from inboxbot.service.unit_of_work import UnitOfWork

# The header is line 1; each later row is taken to be one line (a cell with a
# line break in it would shift the numbers, which the register's exports do not have).
FIRST_ROW_LINE = 2
# Longest values the complaints table holds (PostgreSQL refuses longer ones).
COLUMN_LIMITS = {"council_ref": 64, "service_area": 100}


class RegisterFileError(Exception):
    """The register file cannot be read at all (missing, not CSV, a required column absent)."""


@dataclass
class ImportResult:
    """What one import did (or, on a dry run, would do)."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    problems: list[str] = field(default_factory=list)  # "line N: ..." one-liners

    def summary(self) -> str:
        """One line of counts."""
        return (
            f"{self.added} added, {self.updated} updated, {self.unchanged} unchanged, "
            f"{len(self.problems)} problems"
        )


def normalise_reference(value: str) -> str:
    """A council reference as stored and as the classifier finds it: trimmed, upper case."""
    return value.strip().upper()


def read_register(path: Path, settings: RegisterSettings) -> list[dict[str, str]]:
    """The rows of a register CSV, keyed by the configured column names.

    Headers are matched to the configured names ignoring case and surrounding
    spaces. Raises RegisterFileError with one line saying what is wrong.
    """
    try:
        with path.open(encoding=settings.encoding, newline="") as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            if header is None:
                raise RegisterFileError(f"{path}: the file is empty")
            columns = _columns(header, settings, path)
            rows = []
            for cells in reader:
                if not any(cell.strip() for cell in cells):
                    cells = []  # a blank line keeps its number but has nothing in it
                rows.append({name: cells[i] if i < len(cells) else "" for name, i in columns.items()})
            return rows
    except FileNotFoundError:
        raise RegisterFileError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise RegisterFileError(f"{path}: is a folder, not a file") from None
    except UnicodeDecodeError as exc:
        raise RegisterFileError(
            f"{path}: not {settings.encoding} text ({exc.reason} at byte {exc.start}); set register.encoding"
        ) from None
    except csv.Error as exc:
        raise RegisterFileError(f"{path}: not a readable CSV file ({exc})") from None
    except OSError as exc:
        raise RegisterFileError(f"{path}: cannot read: {exc.strerror or exc}") from None


def _columns(header: list[str], settings: RegisterSettings, path: Path) -> dict[str, int]:
    """Where each configured column is in the header; RegisterFileError if a required one is absent."""
    # A BOM left by a wrong register.encoding must not hide the first column.
    position = {
        name.replace("\ufeff", "").strip().casefold(): i for i, name in reversed(list(enumerate(header)))
    }
    wanted = {
        "council_ref": settings.council_ref,
        "service_area": settings.service_area,
        "subject": settings.subject,
        "received": settings.received,
        "closed": settings.closed,
    }
    found = {name: position.get(name.strip().casefold()) for name in wanted.values()}
    for key in ("council_ref", "service_area"):
        if found[wanted[key]] is None:
            given = ", ".join(repr(h.strip()) for h in header if h.strip()) or "none"
            raise RegisterFileError(
                f"{path}: no {wanted[key]!r} column (register.{key}); the file has: {given}"
            )
    return {name: i for name, i in found.items() if i is not None}


def _parse_date(text: str, settings: RegisterSettings) -> date:
    """A date in the configured format or ISO; ValueError if neither."""
    try:
        return datetime.strptime(text, settings.date_format).date()  # noqa: DTZ007 - a date, no time
    except ValueError:
        pass
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"expected like {date(2026, 3, 2).strftime(settings.date_format)}") from None


@dataclass(frozen=True)
class _Row:
    """One row of the file, read and checked."""

    council_ref: str
    values: dict[str, Any]  # Complaint attribute -> value, only for columns the file has


def _rows(
    rows: Iterable[Mapping[str, str]],
    settings: RegisterSettings,
    areas: Mapping[str, str],
    problems: list[str],
) -> Iterator[_Row]:
    """The usable rows; every problem met is appended to ``problems``."""
    seen: dict[str, int] = {}
    for line, row in enumerate(rows, start=FIRST_ROW_LINE):
        cells = {key: (value or "").strip() for key, value in row.items()}
        if not any(cells.values()):
            continue  # a blank line is no complaint
        reference = normalise_reference(cells.get(settings.council_ref, ""))
        if not reference:
            problems.append(f"line {line}: no {settings.council_ref!r}; row skipped")
            continue
        if len(reference) > COLUMN_LIMITS["council_ref"]:
            problems.append(f"line {line}: reference {reference[:20]!r}... is too long; row skipped")
            continue
        if reference in seen:
            problems.append(f"line {line}: {reference} is already on line {seen[reference]}; row skipped")
            continue
        seen[reference] = line
        values: dict[str, Any] = {}
        bad = False
        for attribute, column in (("received_on", settings.received), ("closed_on", settings.closed)):
            if column not in cells:
                continue
            text = cells[column]
            try:
                values[attribute] = _parse_date(text, settings) if text else None
            except ValueError as exc:
                problems.append(
                    f"line {line}: {reference}: {column} {text!r} is not a date ({exc}); row skipped"
                )
                bad = True
        if bad:
            continue
        if settings.subject in cells:
            values["subject"] = cells[settings.subject] or None
        if settings.service_area in cells:
            area = cells[settings.service_area]
            if len(area) > COLUMN_LIMITS["service_area"]:
                problems.append(f"line {line}: {reference}: service area is too long; row skipped")
                continue
            known = areas.get(area.casefold())
            if area and known is None:
                problems.append(
                    f"line {line}: {reference}: service area {area!r} is not in the directory; "
                    "imported as written"
                )
            values["service_area"] = known or area or None
        yield _Row(reference, values)


def import_register(
    uow: UnitOfWork,
    rows: Iterable[Mapping[str, str]],
    settings: RegisterSettings,
    now: Callable[[], datetime],
    *,
    known_areas: Collection[str],
    dry_run: bool,
    actor: str = audit.BOT,
) -> ImportResult:
    """Add or update a complaint per row, by council reference, in one transaction.

    ``rows`` are keyed by the configured column names (see :func:`read_register`);
    the first is line 2 of the file. ``known_areas`` are the directory's service
    areas. With ``dry_run`` the counts and problems are the same and nothing is kept.
    """
    result = ImportResult()
    areas = {name.casefold(): name for name in known_areas}
    at = now()
    with uow:
        session = uow.session
        stored = {c.council_ref: c for c in session.scalars(select(Complaint))}
        for row in _rows(rows, settings, areas, result.problems):
            complaint = stored.get(row.council_ref)
            if complaint is None:
                complaint = Complaint(council_ref=row.council_ref, imported_at=at, **row.values)
                session.add(complaint)
                stored[row.council_ref] = complaint
                result.added += 1
                continue
            changed = {k: v for k, v in row.values.items() if getattr(complaint, k) != v}
            if not changed:
                result.unchanged += 1
                continue
            for attribute, value in changed.items():
                setattr(complaint, attribute, value)
            complaint.imported_at = at
            result.updated += 1
        audit.record(
            session,
            at,
            "complaints imported",
            actor=actor,
            added=result.added,
            updated=result.updated,
            unchanged=result.unchanged,
            problems=len(result.problems),
        )
        if dry_run:
            session.flush()  # the same checks as a real import; leaving the block throws it away
        else:
            uow.commit()
    return result
