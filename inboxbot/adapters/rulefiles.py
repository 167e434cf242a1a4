"""Reading the classification rules from a folder of TOML files."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from inboxbot.domain.rules import RuleError, RuleSet


def read_rule_documents(folder: Path) -> list[tuple[str, dict[str, Any]]]:
    """(file name, parsed TOML) for every ``*.toml`` in ``folder``, in name order.

    Raises RuleError naming the file when one cannot be read or parsed.
    """
    if not folder.is_dir():
        raise RuleError(f"{folder}: rules folder not found")
    files = sorted(folder.glob("*.toml"))
    if not files:
        raise RuleError(f"{folder}: no rule files (*.toml) in this folder")
    documents = []
    for path in files:
        try:
            documents.append((path.name, tomllib.loads(path.read_text(encoding="utf-8"))))
        except (OSError, UnicodeDecodeError) as exc:
            raise RuleError(f"{path.name}: cannot read: {exc}") from None
        except tomllib.TOMLDecodeError as exc:
            raise RuleError(f"{path.name}: not valid TOML: {exc}") from None
    return documents


def load_rules(folder: Path) -> RuleSet:
    """The rule set in ``folder``; RuleError says which file and rule is wrong."""
    return RuleSet.from_documents(read_rule_documents(folder))
