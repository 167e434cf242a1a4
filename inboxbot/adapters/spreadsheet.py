"""The Ombudsman cases spreadsheet (.xlsx), one row per case, written atomically.

Written in openpyxl's write-only mode so tens of thousands of rows stay quick;
the file appears under its name only once complete (temp file, then os.replace).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable
from datetime import date
from pathlib import Path

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from inboxbot.domain.kinds import Ombudsman
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
    target = Path(path)
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

    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(handle)
    try:
        workbook.save(temp_name)
        os.replace(temp_name, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp_name)
        raise
    return target
