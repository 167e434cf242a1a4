"""Validate tests/corpus: every labelled file exists and parses, and labels.toml is well formed.

This script does NOT check that labels are right (they were computed and cross-checked when the
corpus was written); it only guards the structure so a broken edit is caught early.

    python tests/corpus/check_labels.py        # exit status 0 = ok
"""
from __future__ import annotations

import datetime as dt
import email
import email.policy
import pathlib
import sys
import tomllib

HERE = pathlib.Path(__file__).resolve().parent
KINDS = {"notification", "information_request", "draft_decision", "final_decision", "public_report",
         "chaser_first", "chaser_final", "case_closed", "case_update", "portal_message", "auto_reply",
         "other", "unknown"}
REQUIRED = {"file": str, "kind": str, "deadlines": list, "trusted": bool}
OPTIONAL = {"ombudsman": str, "ombudsman_ref": str, "council_ref": str, "due": dt.date,
            "due_source": str, "note": str}


def main(folder: pathlib.Path = HERE) -> int:
    errors: list[str] = []
    labels = tomllib.loads((folder / "labels.toml").read_text("utf-8"))["message"]
    seen: set[str] = set()
    for i, lab in enumerate(labels):
        where = lab.get("file", f"entry {i}")
        for key, typ in REQUIRED.items():
            if not isinstance(lab.get(key), typ):
                errors.append(f"{where}: missing or bad {key}")
        for key, value in lab.items():
            if key not in REQUIRED and key not in OPTIONAL:
                errors.append(f"{where}: unknown field {key}")
            elif key in OPTIONAL and not isinstance(value, OPTIONAL[key]):
                errors.append(f"{where}: bad type for {key}")
        if lab.get("kind") not in KINDS:
            errors.append(f"{where}: unknown kind {lab.get('kind')!r}")
        if lab.get("ombudsman") not in (None, "lgsco", "hos"):
            errors.append(f"{where}: bad ombudsman")
        if ("due" in lab) != ("due_source" in lab):
            errors.append(f"{where}: due and due_source must come together")
        if lab.get("due_source") not in (None, "explicit", "relative", "default"):
            errors.append(f"{where}: bad due_source")
        if not all(isinstance(d, dt.date) for d in lab.get("deadlines", [])):
            errors.append(f"{where}: deadlines must be dates")
        if where in seen:
            errors.append(f"{where}: labelled twice")
        seen.add(where)
        path = folder / where
        if not path.is_file():
            errors.append(f"{where}: file missing")
            continue
        msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        if not msg["From"] or not msg["Date"] or not msg.get_all("Received"):
            errors.append(f"{where}: no From/Date/Received header")
    for eml in folder.glob("*.eml"):
        if eml.name not in seen:
            errors.append(f"{eml.name}: not labelled")
    for e in errors:
        print(e, file=sys.stderr)
    print(f"{len(labels)} labels checked, {len(errors)} problems")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
