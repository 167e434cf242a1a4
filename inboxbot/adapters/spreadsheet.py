"""The Ombudsman cases spreadsheet (.xlsx), one row per case, written atomically.

Written in openpyxl's write-only mode so tens of thousands of rows stay quick;
the file appears under its name only once complete (temp file, then os.replace).

:class:`KeptSpreadsheet` is the copy ``inboxbot run`` keeps up to date. It
remembers the audit trail's mark it was written at in a small JSON file beside
it (``.NAME.inboxbot.json``), with the size and modification time the
spreadsheet had then. Beside the file rather than in the database, because
the mark describes that file: a spreadsheet that was deleted, replaced or
edited by someone, or a standby on another machine with its own copy, is
noticed and written afresh, and no table is needed.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Callable, Iterable, Sequence
from datetime import date
from pathlib import Path

from inboxbot.domain.kinds import Ombudsman
from inboxbot.service.spreadsheet_keeper import AuditMark
from inboxbot.service.spreadsheet_rows import CaseRow

DATE_FORMAT = "dd/mm/yyyy"
OMBUDSMAN_NAMES = {Ombudsman.LGSCO.value: "LGSCO", Ombudsman.HOS.value: "Housing Ombudsman"}

# (heading, column width)
COLUMNS: tuple[tuple[str, int], ...] = (
    ("Ombudsman", 20),
    ("Ombudsman reference", 20),
    ("Council reference", 18),
    ("Service area", 24),
    ("Status", 10),
    ("Kinds received", 60),
    ("First received", 14),
    ("Next due", 14),
    ("Working days taken", 12),
    ("Chasers", 9),
    ("Orders", 9),
    ("Orders done", 12),
    ("Closed", 14),
)


def _values(row: CaseRow) -> list[object]:
    ombudsman = OMBUDSMAN_NAMES.get(row.ombudsman, row.ombudsman) if row.ombudsman else ""
    return [
        ombudsman,
        row.ombudsman_ref or "",
        row.council_ref or "",
        row.service_area or "",
        row.status,
        ", ".join(row.kinds),
        row.first_received,
        row.next_due,
        row.working_days_taken,
        row.chasers,
        row.orders,
        row.orders_done,
        row.closed_on,
    ]


def write_ombudsman_spreadsheet(rows: Iterable[CaseRow], path: Path | str) -> Path:
    """Write the cases to ``path`` (.xlsx), replacing any file there only once the new one is complete."""
    # Imported here: openpyxl brings numpy along, too slow to load for every command.
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)  # before the workbook: nothing half-made to clean up
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Ombudsman cases")
    sheet.freeze_panes = "A2"
    for index, (_, width) in enumerate(COLUMNS, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    bold = Font(bold=True)
    header = []
    for heading, _ in COLUMNS:
        cell = WriteOnlyCell(sheet, value=heading)
        cell.font = bold
        header.append(cell)
    sheet.append(header)
    for row in rows:
        out: list[object] = []
        for value in _values(row):
            if isinstance(value, date):
                cell = WriteOnlyCell(sheet, value=value)
                cell.number_format = DATE_FORMAT
                out.append(cell)
            else:
                out.append(value)
        sheet.append(out)

    _replace(target, workbook.save)
    return target


def _replace(target: Path, save: Callable[[str], object]) -> None:
    """Have ``save`` write a temporary file beside ``target``, then put it in ``target``'s place."""
    handle, temp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(handle)
    try:
        save(temp_name)
        os.replace(temp_name, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp_name)
        raise


class KeptSpreadsheet:
    """The spreadsheet at ``path`` and the audit mark it was written at (see the module docstring)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.mark_file = path.with_name(f".{path.name}.inboxbot.json")

    def written_mark(self) -> AuditMark | None:
        """The mark it was written at; None when it is missing, was changed since, or has no mark."""
        try:
            stat = self.path.stat()
            kept = json.loads(self.mark_file.read_text(encoding="utf-8"))
            if (kept["size"], kept["mtime_ns"]) != (stat.st_size, stat.st_mtime_ns):
                return None  # not the file we wrote
            return AuditMark(int(kept["last_event"]), int(kept["events"]), date.fromisoformat(kept["day"]))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def write(self, rows: Sequence[CaseRow], mark: AuditMark) -> None:
        """Write the spreadsheet, then its mark (a crash in between means it is written again)."""
        write_ombudsman_spreadsheet(rows, self.path)
        stat = self.path.stat()
        kept = {
            "last_event": mark.last_event,
            "events": mark.events,
            "day": mark.day.isoformat(),
            "size": stat.st_size,
            "mtime_ns": stat.st_mtime_ns,
        }
        _replace(self.mark_file, lambda name: Path(name).write_text(json.dumps(kept), encoding="utf-8"))
