"""Putting the sending side together from the configuration: templates, transport, composing."""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import UTC, datetime
from email.message import EmailMessage

from inboxbot.adapters.db.models import OutboxItem
from inboxbot.adapters.invites import invite
from inboxbot.adapters.messages import Outgoing, Templates, build_email
from inboxbot.adapters.sending import (
    FileTransport,
    SmtpSettings,
    SmtpTransport,
    Transport,
    TransportConfigError,
)
from inboxbot.config import Settings
from inboxbot.domain.schedule import SendingRules
from inboxbot.service.actions import Acting
from inboxbot.service.tick import InviteBuilder


def sender_address(settings: Settings) -> str:
    """Who the bot's mail comes from: the configured address, else the shared mailbox."""
    return settings.outgoing.from_address or settings.directory.shared_mailbox or "inboxbot@localhost"


def acting(settings: Settings) -> Acting:
    """Who is who and how emails are written."""
    return Acting(
        settings.directory,
        Templates(settings.outgoing.templates_dir),
        settings.outgoing.council_name,
        settings.working_calendar(),
        frozenset(settings.classification.lgsco_domains + settings.classification.hos_domains),
    )


def invites() -> InviteBuilder:
    """The calendar invite builder."""
    return invite


def sending_rules(settings: Settings) -> SendingRules:
    """When and how often the bot writes to people."""
    out = settings.outgoing
    return SendingRules(out.reminder_every, out.invite_before, out.hours_from, out.hours_to)


def transport(settings: Settings) -> Transport:
    """The configured way of sending mail (one-line TransportConfigError when it cannot be built)."""
    out = settings.outgoing
    if out.transport == "smtp":
        from inboxbot.adapters.mail.sources import IMAP_SCOPE, msal_token_provider

        token = None
        if out.smtp_oauth2:
            mailbox = settings.mailbox
            secret = mailbox.client_secret.get_secret_value() if mailbox.client_secret else ""
            token = msal_token_provider(mailbox.tenant_id or "", mailbox.client_id or "", secret, IMAP_SCOPE)
        auth = "xoauth2" if out.smtp_oauth2 else ("password" if out.smtp_password else None)
        return SmtpTransport(
            SmtpSettings(
                host=out.smtp_host or "",
                from_address=sender_address(settings),
                port=out.smtp_port,
                security=out.smtp_security,
                auth=auth,  # type: ignore[arg-type]
                username=out.smtp_username,
                password=out.smtp_password.get_secret_value() if out.smtp_password else None,
            ),
            token_provider=token,
        )
    if out.transport in ("graph", "ews"):
        return _send_as_mailbox(settings, out.transport)
    return FileTransport(settings.outbox_folder)


def _send_as_mailbox(settings: Settings, kind: str) -> Transport:
    """Sending as the shared mailbox uses the account and app registration that read it."""
    from inboxbot.adapters.mail.ews import EwsSource
    from inboxbot.adapters.mail.graph import GraphSource
    from inboxbot.adapters.mail.sources import open_source
    from inboxbot.adapters.sending import EwsSendTransport, GraphSendTransport

    source = open_source(settings.mailbox.source, settings.mailbox) if settings.mailbox.source else None
    if kind == "graph" and isinstance(source, GraphSource):
        return GraphSendTransport(source.settings)
    if kind == "ews" and isinstance(source, EwsSource):
        return EwsSendTransport(source.settings)
    raise TransportConfigError(f"outgoing.transport = {kind!r} needs mailbox.source to be a {kind}:// URL")


def outbox_message_id(item: OutboxItem, domain: str) -> str:
    """The Message-ID of an outbox row's email: the same each time the row is sent.

    A crash after the server accepted an email but before its row was marked sent
    sends it again on restart (see :mod:`inboxbot.service.dispatch`); with the same
    Message-ID the second copy can be recognised as the same email.
    """
    created = item.created_at.astimezone(UTC).strftime("%Y%m%d%H%M%S%f")
    return f"<inboxbot.{item.id}.{created}@{domain}>"


def composer(settings: Settings) -> Callable[[OutboxItem], EmailMessage]:
    """Turns an outbox row into the email to send."""
    reply_to = settings.directory.shared_mailbox or sender_address(settings)
    domain = sender_address(settings).rpartition("@")[2] or "inboxbot.local"

    def compose(item: OutboxItem) -> EmailMessage:
        images = (item.headers or {}).get("images")
        if images:
            # A report with charts: they go inline in the HTML. (Imported here: it brings in matplotlib.)
            from inboxbot.adapters.report_email import Rendered, build_report_email

            rendered: Rendered = (
                item.subject,
                item.body_text,
                item.body_html or "",
                {cid: base64.b64decode(png) for cid, png in images.items()},
            )
            report = build_report_email(sender_address(settings), list(item.recipients), rendered)
            if item.id is not None:
                report.replace_header("Message-ID", outbox_message_id(item, domain))
            return report
        outgoing = Outgoing(
            to=tuple(item.recipients),
            subject=item.subject,
            text=item.body_text,
            html=item.body_html,
            ics=item.ics,
            headers={"Message-ID": outbox_message_id(item, domain)} if item.id is not None else {},
        )
        created: datetime = item.created_at
        return build_email(
            outgoing,
            from_address=sender_address(settings),
            reply_to=reply_to,
            message_id_domain=domain,
            now=created,
        )

    return compose
