"""Opening a mail source from its URL.

    imaps://user@host[:993]/INBOX          IMAP over TLS
    imap://user@host[:143]/INBOX           IMAP with STARTTLS (?security=none for a loopback test server)
    graph://shared-mailbox@tenant/Inbox    Microsoft 365 through Microsoft Graph
    ews://user@host/Inbox                  Exchange Server through EWS
    maildir:PATH                           a Maildir
    dir:PATH                               a folder of .eml files

Passwords and client secrets come from the configuration or the environment,
never from the URL: a URL is printed in logs and status.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from inboxbot.adapters.mail.files import EmlFolderSource, MaildirSource, SourceConfigError, SourceError
from inboxbot.config import MailboxSettings
from inboxbot.service.ports import MailSource

IMAP_SCOPE = "https://outlook.office365.com/.default"


def _secret(value: object) -> str | None:
    getter = getattr(value, "get_secret_value", None)
    return str(getter()) if callable(getter) else None


def msal_token_provider(tenant_id: str, client_id: str, client_secret: str, scope: str) -> Callable[[], str]:
    """A function that returns a fresh app-only OAuth2 token (msal client credentials; msal caches it)."""
    import msal

    app = msal.ConfidentialClientApplication(
        client_id, authority=f"https://login.microsoftonline.com/{tenant_id}", client_credential=client_secret
    )

    def token() -> str:
        result = app.acquire_token_for_client(scopes=[scope])
        if "access_token" not in result:
            raise SourceError(f"cannot get an OAuth2 token: {result.get('error', 'unknown error')}")
        return str(result["access_token"])

    return token


def _oauth(mailbox: MailboxSettings, what: str, default_tenant: str | None = None) -> tuple[str, str, str]:
    secret = _secret(mailbox.client_secret)
    tenant = mailbox.tenant_id or default_tenant
    if not (tenant and mailbox.client_id and secret):
        raise SourceConfigError(
            f"{what} needs mailbox.tenant_id, mailbox.client_id and mailbox.client_secret "
            "(put the secret in INBOXBOT_MAILBOX__CLIENT_SECRET)"
        )
    return tenant, mailbox.client_id, secret


def open_source(url: str, mailbox: MailboxSettings) -> MailSource:
    """The mail source a URL names; SourceError with a one-line reason when it cannot be used."""
    scheme, sep, rest = url.partition(":")
    if not sep:
        raise SourceConfigError(
            f"not a mail source URL: {url!r} (try maildir:PATH or imaps://user@host/INBOX)"
        )
    if scheme == "maildir":
        return MaildirSource(Path(rest).expanduser())
    if scheme == "dir":
        return EmlFolderSource(Path(rest).expanduser())
    parts = urlsplit(url)
    if parts.password:
        raise SourceConfigError("put the password in INBOXBOT_MAILBOX__PASSWORD, not in the source URL")
    if not parts.hostname:
        raise SourceConfigError(f"no host in {scheme}:// URL")
    folder = unquote(parts.path.lstrip("/")) or ("INBOX" if scheme.startswith("imap") else "Inbox")
    user = unquote(parts.username or "")
    if scheme in ("imap", "imaps"):
        return _imap(scheme, parts.hostname, parts.port, user, folder, parse_qs(parts.query), mailbox)
    if scheme == "graph":
        from inboxbot.adapters.mail.graph import GraphSettings, GraphSource

        # graph://ombudsman@northmere.gov.uk/Inbox names the shared mailbox ombudsman@northmere.gov.uk;
        # the tenant is the configured id, else the mailbox's domain (Entra ID accepts either).
        address = mailbox.address or (user if "@" in user else f"{user}@{parts.hostname}")
        tenant, client, secret = _oauth(mailbox, "graph://", default_tenant=parts.hostname)
        return GraphSource(
            GraphSettings(
                mailbox=address, tenant_id=tenant, client_id=client, client_secret=secret, folder=folder
            )
        )
    if scheme == "ews":
        from inboxbot.adapters.mail.ews import EwsSettings, EwsSource

        ews_address = mailbox.address or (user if "@" in user else None)
        if ews_address is None:
            raise SourceConfigError("ews:// needs the shared mailbox's address in mailbox.address")
        if mailbox.oauth2:
            tenant, client, secret = _oauth(mailbox, "EWS with oauth2")
            ews = EwsSettings(
                server=parts.hostname,
                username=user,
                mailbox=ews_address,
                folder=folder,
                auth="oauth2",
                tenant_id=tenant,
                client_id=client,
                client_secret=secret,
            )
        else:
            password = _secret(mailbox.password)
            if password is None:
                raise SourceConfigError(
                    "EWS needs mailbox.password (INBOXBOT_MAILBOX__PASSWORD) or mailbox.oauth2"
                )
            ews = EwsSettings(
                server=parts.hostname, username=user, mailbox=ews_address, password=password, folder=folder
            )
        return EwsSource(ews)
    raise SourceConfigError(f"unknown mail source {scheme!r}: use imaps, imap, graph, ews, maildir or dir")


def _imap(
    scheme: str,
    host: str,
    port: int | None,
    user: str,
    folder: str,
    query: dict[str, list[str]],
    mailbox: MailboxSettings,
) -> MailSource:
    security = "tls" if scheme == "imaps" else (query.get("security") or ["starttls"])[0]
    if security not in ("tls", "starttls", "none"):
        raise SourceConfigError(f"security must be tls, starttls or none (got {security!r})")
    from inboxbot.adapters.mail.imap import ImapSettings, ImapSource

    token = None
    password = _secret(mailbox.password)
    if mailbox.oauth2:
        token = msal_token_provider(*_oauth(mailbox, "IMAP with oauth2"), IMAP_SCOPE)
    elif password is None:
        raise SourceConfigError(
            "IMAP needs mailbox.password (INBOXBOT_MAILBOX__PASSWORD) or mailbox.oauth2 = true"
        )
    return ImapSource(
        ImapSettings(
            host=host,
            port=port or (993 if security == "tls" else 143),
            username=user,
            security=security,  # type: ignore[arg-type]
            password=password,
            token_provider=token,
            folder=folder,
        )
    )
