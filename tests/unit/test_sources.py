"""Mail source URLs: each names the right adapter with the right settings, and no secret leaks."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from inboxbot.adapters.mail.ews import EwsSource
from inboxbot.adapters.mail.files import EmlFolderSource, MaildirSource, SourceConfigError
from inboxbot.adapters.mail.graph import GraphSource
from inboxbot.adapters.mail.imap import ImapSource
from inboxbot.adapters.mail.sources import open_source
from inboxbot.config import MailboxSettings

SECRETS = MailboxSettings(
    password=SecretStr("hunter2"),
    tenant_id="tenant-1",
    client_id="client-1",
    client_secret=SecretStr("s3cret"),
)


def test_local_sources(tmp_path: Path) -> None:
    (tmp_path / "cur").mkdir()
    assert isinstance(open_source(f"maildir:{tmp_path}", SECRETS), MaildirSource)
    assert isinstance(open_source(f"dir:{tmp_path}", SECRETS), EmlFolderSource)


def test_imap_urls() -> None:
    tls = open_source("imaps://ombudsman@mail.example.gov.uk/INBOX", SECRETS)
    assert isinstance(tls, ImapSource)
    assert (tls.settings.port, tls.settings.security, tls.settings.folder) == (993, "tls", "INBOX")
    starttls = open_source("imap://ombudsman@mail.example.gov.uk:1143/Ombudsman%20Mail", SECRETS)
    assert isinstance(starttls, ImapSource)
    assert (starttls.settings.port, starttls.settings.security) == (1143, "starttls")
    assert starttls.settings.folder == "Ombudsman Mail"
    assert "hunter2" not in starttls.name
    assert "hunter2" not in repr(starttls.settings)


def test_graph_names_the_whole_mailbox_address() -> None:
    source = open_source("graph://ombudsman@northmere.gov.uk/Inbox", SECRETS)
    assert isinstance(source, GraphSource)
    assert source.settings.mailbox == "ombudsman@northmere.gov.uk"
    assert source.settings.tenant_id == "tenant-1"
    assert "s3cret" not in repr(source.settings)


def test_ews_needs_the_mailbox_address() -> None:
    source = open_source("ews://svc-bot%40northmere.gov.uk@exchange.northmere.gov.uk/Inbox", SECRETS)
    assert isinstance(source, EwsSource)
    assert source.settings.mailbox == "svc-bot@northmere.gov.uk"
    with pytest.raises(SourceConfigError, match=r"mailbox\.address"):
        open_source("ews://NORTHMERE%5Csvc-bot@exchange.northmere.gov.uk/Inbox", SECRETS)


@pytest.mark.parametrize(
    ("url", "settings", "message"),
    [
        ("imaps://u:pw@host/INBOX", SECRETS, "not in the source URL"),
        ("imaps://u@host/INBOX", MailboxSettings(), "needs mailbox.password"),
        ("graph://a@b/Inbox", MailboxSettings(), "needs mailbox.tenant_id"),
        ("imaps:///INBOX", SECRETS, "no host"),
        ("nonsense", SECRETS, "not a mail source URL"),
    ],
)
def test_bad_sources(url: str, settings: MailboxSettings, message: str) -> None:
    with pytest.raises(SourceConfigError, match=message):
        open_source(url, settings)
