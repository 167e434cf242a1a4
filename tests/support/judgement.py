"""The judgement settings the tests use: Northmere's gateway and domain, the bundled rules."""

from __future__ import annotations

from functools import cache

from inboxbot.adapters.rulefiles import load_rules
from inboxbot.domain.classify import ClassifySettings
from inboxbot.resources import rules_dir


@cache
def judgement() -> ClassifySettings:
    return ClassifySettings.build(
        load_rules(rules_dir()),
        authserv_ids=frozenset({"mx.northmere.gov.uk"}),
        council_domains=frozenset({"northmere.gov.uk"}),
    )
