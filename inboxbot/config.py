"""Configuration: a TOML file, secrets from ``INBOXBOT_...`` environment variables.

With no file at all the embedded default works: SQLite under ``./inboxbot-data/``
and outgoing mail written as .eml files to ``./inboxbot-data/outbox/``.
Relative paths in a file are taken from the file's own folder, so a service
finds the same data whatever directory it was started from.

Every problem is reported as :class:`ConfigError` with one line per problem
naming the key, never a traceback.
"""

from __future__ import annotations

import codecs
import os
import re
import tomllib
import warnings
from datetime import date, datetime, time
from email.utils import parseaddr
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from inboxbot.domain.calendar import WorkingCalendar

CONFIG_ENV = "INBOXBOT_CONFIG"


class ConfigError(Exception):
    """The configuration cannot be used; ``problems`` holds one line per fault."""

    def __init__(self, problems: list[str], source: str | None = None) -> None:
        self.problems = problems
        self.source = source
        super().__init__("; ".join(problems))

    def lines(self) -> list[str]:
        """The problems, each prefixed with where the configuration came from."""
        where = f"{self.source}: " if self.source else ""
        return [f"config error: {where}{problem}" for problem in self.problems]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ClosureDay(_Section):
    """A day the council is closed although it is not a bank holiday."""

    date: date
    name: str = "Council closure day"

    @model_validator(mode="before")
    @classmethod
    def _plain_date(cls, value: Any) -> Any:
        # A bare date (2026-12-29 or "2026-12-29") is a closure day with the default name.
        return value if isinstance(value, dict | ClosureDay) else {"date": value}


class CalendarSettings(_Section):
    """Working days: cut-off time for receipt and the council's own closure days."""

    cutoff: time = Field(
        default=time(17, 0),
        description="From this London time a message counts as received the next working day.",
    )
    closure_days: list[ClosureDay] = Field(default_factory=list)

    def working_calendar(self) -> WorkingCalendar:
        """The calendar these settings describe."""
        names = {day.date: day.name for day in self.closure_days}
        return WorkingCalendar.build(names, cutoff=self.cutoff, names=names)


class OutgoingSettings(_Section):
    """How and when the bot sends mail. The default writes .eml files to a folder."""

    transport: Literal["file", "smtp", "graph", "ews"] = "file"
    folder: Path | None = Field(
        default=None, description="Where the file transport writes; default DATA_DIR/outbox."
    )
    from_address: str | None = Field(
        default=None, description="Sender of the bot's mail; default the shared mailbox."
    )
    smtp_host: str | None = None
    smtp_port: int | None = None
    smtp_security: Literal["starttls", "tls", "none"] = "starttls"
    smtp_username: str | None = None
    smtp_password: SecretStr | None = Field(default=None, description="Use INBOXBOT_OUTGOING__SMTP_PASSWORD.")
    smtp_oauth2: bool = Field(
        default=False, description="XOAUTH2 with the mailbox app registration (Microsoft 365)."
    )
    daily_cap: int = Field(
        default=50, ge=1, le=10_000, description="Most emails one person gets from the bot a day."
    )
    hours_from: time = Field(
        default=time(8, 0), description="Reminders and invites only from this London time..."
    )
    hours_to: time = Field(default=time(18, 0), description="...until this one, on working days.")
    reminder_every: int = Field(default=3, ge=1, le=30, description="Working days between reminders.")
    invite_before: int = Field(
        default=3, ge=0, le=30, description="Working days before the due date for the invite."
    )
    templates_dir: Path | None = Field(default=None, description="The council's own email templates, if any.")
    council_name: str = "the council"

    @model_validator(mode="after")
    def _smtp_needs_a_host(self) -> OutgoingSettings:
        if self.transport == "smtp" and not self.smtp_host:
            raise ValueError("smtp_host is required when transport is smtp")
        if self.hours_from >= self.hours_to:
            raise ValueError("hours_from must be before hours_to")
        return self


_DUE_KINDS = Literal[
    "notification",
    "information_request",
    "draft_decision",
    "final_decision",
    "public_report",
    "chaser_first",
    "chaser_final",
    "portal_message",
]

DEFAULT_DUE_DAYS: dict[_DUE_KINDS, int] = {
    "notification": 20,
    "information_request": 15,
    "draft_decision": 10,
    "final_decision": 20,
    "public_report": 65,
    "chaser_first": 5,
    "chaser_final": 5,
    "portal_message": 2,
}


class ClassificationSettings(_Section):
    """Where the rules live, what references look like, whom to trust, default due dates."""

    rules_dir: Path | None = Field(
        default=None, description="Folder of rule files; default the bundled rules/."
    )
    council_ref_pattern: str = r"CAS-\d{6,7}"
    # Empty by default on purpose: until the council names its own gateway no
    # message is trusted, so nothing can escalate or close a case by mistake.
    authserv_ids: list[str] = Field(
        default_factory=list,
        description="The authserv-id of the council's own mail gateway in Authentication-Results.",
    )
    council_domains: list[str] = Field(
        default_factory=list,
        description="The council's own mail domains: forwards from staff are not spoofs.",
    )
    lgsco_domains: list[str] = Field(default_factory=lambda: ["lgo.org.uk"])
    hos_domains: list[str] = Field(default_factory=lambda: ["housing-ombudsman.org.uk"])
    default_due_days: dict[_DUE_KINDS, int] = Field(default_factory=lambda: dict(DEFAULT_DUE_DAYS))

    @field_validator("council_ref_pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a valid regular expression: {exc}") from exc
        return value

    @field_validator("default_due_days")
    @classmethod
    def _sensible_days(cls, value: dict[str, int]) -> dict[str, int]:
        for kind, days in value.items():
            if not 0 < days <= 260:
                raise ValueError(f"{kind}: must be between 1 and 260 working days (got {days})")
        return value

    @field_validator("authserv_ids", "council_domains", "lgsco_domains", "hos_domains")
    @classmethod
    def _lower(cls, value: list[str]) -> list[str]:
        return [v.strip().lower() for v in value if v.strip()]


class MailboxSettings(_Section):
    """The shared mailbox: where mail comes from, how to log in, where to file it."""

    source: str | None = Field(
        default=None,
        description="imaps://user@host/INBOX, imap://..., graph://mailbox@tenant/Inbox, "
        "ews://user@host/Inbox, "
        "maildir:PATH or dir:PATH.",
    )
    address: str | None = Field(
        default=None,
        description="The shared mailbox's address, when the source URL's user is a login, not it.",
    )
    password: SecretStr | None = Field(default=None, description="IMAP or EWS password; use the environment.")
    oauth2: bool = Field(
        default=False, description="IMAP: log in with XOAUTH2 (Microsoft 365) instead of a password."
    )
    tenant_id: str | None = None
    client_id: str | None = None
    client_secret: SecretStr | None = Field(
        default=None, description="App registration secret; use the environment."
    )
    processed_folder: str | None = Field(
        default=None, description="File processed mail here; unset leaves it."
    )
    triage_folder: str | None = Field(default=None, description="File mail a person must look at here.")
    poll_seconds: int = Field(default=60, ge=5, le=3600)
    classify_workers: int | None = Field(
        default=None,
        ge=0,
        le=64,
        description="Processes that classify a backfill; unset: one per CPU; 0: none (all in one process).",
    )

    @field_validator("source")
    @classmethod
    def _known_scheme(cls, value: str | None) -> str | None:
        if value is None:
            return None
        schemes = ("imap://", "imaps://", "graph://", "ews://", "maildir:", "dir:")
        if not value.startswith(schemes):
            raise ValueError("must start with one of " + ", ".join(schemes))
        return value


def _address(value: str) -> str:
    """An email address, optionally with a display name ("Jo Bloggs <jo@x.gov.uk>")."""
    _, address = parseaddr(value)
    if not re.fullmatch(r"[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+", address or ""):
        raise ValueError(f"not an email address: {value!r}")
    return value.strip()


class ServiceArea(_Section):
    """A service area: who gets its tasks, who is told when it is chased."""

    name: str = Field(min_length=1)
    task_recipients: list[str] = Field(min_length=1)
    head_of_service: str
    slt_director: str
    keywords: list[str] = Field(default_factory=list, description="Words that point a new case to this area.")
    daily_report: bool = False

    @field_validator("task_recipients")
    @classmethod
    def _recipients(cls, values: list[str]) -> list[str]:
        return [_address(v) for v in values]

    @field_validator("head_of_service", "slt_director")
    @classmethod
    def _person(cls, value: str) -> str:
        return _address(value)


class DirectorySettings(_Section):
    """The people inboxbot writes to."""

    shared_mailbox: str | None = Field(
        default=None, description="The Resident Experience Team's shared mailbox."
    )
    head_of_resident_contact: str | None = None
    service_areas: list[ServiceArea] = Field(default_factory=list)
    acknowledge: dict[Literal["lgsco", "hos"], str] = Field(
        default_factory=dict,
        description="Where to send an acknowledgement of a new complaint, per Ombudsman.",
    )

    @field_validator("shared_mailbox", "head_of_resident_contact")
    @classmethod
    def _optional_person(cls, value: str | None) -> str | None:
        return None if value is None else _address(value)

    @field_validator("acknowledge")
    @classmethod
    def _acknowledge(cls, values: dict[str, str]) -> dict[str, str]:
        return {k: _address(v) for k, v in values.items()}

    @model_validator(mode="after")
    def _unique_areas(self) -> DirectorySettings:
        seen: set[str] = set()
        for area in self.service_areas:
            key = area.name.casefold()
            if key in seen:
                raise ValueError(f"service area {area.name!r} is listed twice")
            seen.add(key)
        return self

    def area(self, name: str) -> ServiceArea | None:
        """The service area called ``name`` (any case), or None."""
        return next((a for a in self.service_areas if a.name.casefold() == name.casefold()), None)


class RegisterSettings(_Section):
    """The council's complaints register as a CSV export: its column names and formats."""

    council_ref: str = Field(
        default="Reference", min_length=1, description="Column of the complaint reference."
    )
    service_area: str = Field(default="Service area", min_length=1, description="Column of the service area.")
    subject: str = Field(default="Subject", min_length=1, description="Column of the subject; optional.")
    received: str = Field(default="Date received", min_length=1, description="Column of the date received.")
    closed: str = Field(default="Date closed", min_length=1, description="Column of the date closed.")
    date_format: str = Field(
        default="%d/%m/%Y", description="strftime format of the dates; ISO dates (2026-03-02) also work."
    )
    encoding: str = Field(default="utf-8-sig", description="Text encoding of the CSV file.")

    @field_validator("date_format")
    @classmethod
    def _is_a_date_format(cls, value: str) -> str:
        if "%" not in value:
            raise ValueError("must be a strftime format such as %d/%m/%Y")
        try:
            sample = date(2026, 12, 31).strftime(value)
            datetime.strptime(sample, value)  # noqa: DTZ007 - only the format is being checked
        except ValueError as exc:
            raise ValueError(f"not a usable date format: {exc}") from exc
        return value

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str) -> str:
        try:
            codecs.lookup(value)
        except LookupError:
            raise ValueError(f"unknown text encoding {value!r}") from None
        return value

    @model_validator(mode="after")
    def _distinct_columns(self) -> RegisterSettings:
        columns = [self.council_ref, self.service_area, self.subject, self.received, self.closed]
        folded = [c.strip().casefold() for c in columns]
        if len(set(folded)) != len(folded):
            raise ValueError("the register's column names must all be different")
        return self


class ReportSettings(_Section):
    """When ``inboxbot run`` sends the reports (London times), and where the spreadsheet is kept."""

    send: bool = Field(default=True, description="Send the scheduled reports from inboxbot run.")
    weekly_at: time = Field(default=time(8, 0), description="Monday report time.")
    daily_at: time = Field(default=time(8, 0), description="Daily report time, for areas with daily_report.")
    quarterly_at: time = Field(default=time(8, 0), description="KPIs, first working day of each quarter.")
    annual_at: time = Field(default=time(8, 0), description="Annual report, first working day of April.")
    spreadsheet: Path | None = Field(
        default=None, description="Keep the Ombudsman spreadsheet here, up to date."
    )


class LoggingSettings(_Section):
    """Log level and format."""

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    json_logs: bool = Field(default=False, alias="json")


# ``register`` is the section's name in the file and the environment (INBOXBOT_REGISTER__...);
# as a field it hides ABCMeta.register on the class, which nothing here calls.
warnings.filterwarnings("ignore", message='Field name "register" in "Settings" shadows', category=UserWarning)


class Settings(BaseSettings):
    """Everything inboxbot can be told. See config.example.toml for every key."""

    model_config = SettingsConfigDict(
        env_prefix="INBOXBOT_",
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
        populate_by_name=True,
    )

    data_dir: Path = Field(
        default=Path("inboxbot-data"), description="Where the default database and outbox live."
    )
    database_url: str | None = Field(default=None, description="SQLAlchemy URL; default SQLite in data_dir.")
    calendar: CalendarSettings = CalendarSettings()
    outgoing: OutgoingSettings = OutgoingSettings()
    classification: ClassificationSettings = ClassificationSettings()
    mailbox: MailboxSettings = MailboxSettings()
    directory: DirectorySettings = DirectorySettings()
    reports: ReportSettings = ReportSettings()
    register: RegisterSettings = RegisterSettings()
    logging: LoggingSettings = LoggingSettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The environment wins over the file so secrets never need to be written down.
        return (env_settings, init_settings)

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("sqlite:", "postgresql:", "postgresql+psycopg:")):
            raise ValueError("must start with sqlite:/// or postgresql+psycopg://")
        if value is not None and value.startswith("postgresql:"):
            value = "postgresql+psycopg:" + value.removeprefix("postgresql:")
        return value

    @model_validator(mode="after")
    def _no_empty_data_dir(self) -> Settings:
        if str(self.data_dir).strip() == "":
            raise ValueError("data_dir must not be empty")
        return self

    @property
    def effective_database_url(self) -> str:
        """The database to use: the configured URL or SQLite in ``data_dir``."""
        return self.database_url or f"sqlite:///{self.data_dir / 'inboxbot.sqlite3'}"

    @property
    def outbox_folder(self) -> Path:
        """Where the file transport writes outgoing mail."""
        return self.outgoing.folder or self.data_dir / "outbox"

    def working_calendar(self) -> WorkingCalendar:
        """The council's working-day calendar."""
        return self.calendar.working_calendar()


def _format_error(error: Any) -> str:
    loc = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in error["loc"])
    loc = loc.removeprefix(".") or "(top level)"
    message = str(error["msg"])
    if error["type"] == "extra_forbidden":
        return f"{loc}: unknown key"
    if error["type"] == "missing":
        return f"{loc}: required key is missing"
    given = error.get("input")
    if isinstance(given, str | int | float | bool) and not isinstance(given, dict):
        return f"{loc}: {message} (got {given!r})"
    return f"{loc}: {message}"


def _resolve_relative(data: dict[str, Any], base: Path) -> dict[str, Any]:
    """Make the path keys of a config file relative to the file's folder."""

    def fix(value: Any) -> Any:
        if isinstance(value, str) and value and not os.path.isabs(value):
            return str(base / value)
        return value

    data = dict(data)
    if "data_dir" in data:
        data["data_dir"] = fix(data["data_dir"])
    for section, key in (
        ("outgoing", "folder"),
        ("outgoing", "templates_dir"),
        ("classification", "rules_dir"),
        ("reports", "spreadsheet"),
    ):
        if isinstance(data.get(section), dict) and key in data[section]:
            data[section] = {**data[section], key: fix(data[section][key])}
    url = data.get("database_url")
    if isinstance(url, str) and url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
        relative = url.removeprefix("sqlite:///")
        if relative and relative != ":memory:":
            data["database_url"] = f"sqlite:///{base / relative}"
    return data


def read_config_file(path: Path) -> dict[str, Any]:
    """The raw TOML of a config file, or ConfigError saying why it cannot be read."""
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(["file not found"], source) from None
    except IsADirectoryError:
        raise ConfigError(["is a folder, not a file"], source) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([f"cannot read: {exc}"], source) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"not valid TOML: {exc}"], source) from None


def load_settings(path: Path | None = None) -> Settings:
    """Settings from ``path`` (or ``$INBOXBOT_CONFIG``), then the environment.

    Raises ConfigError with one line per problem.
    """
    if path is None and os.environ.get(CONFIG_ENV):
        path = Path(os.environ[CONFIG_ENV])
    data: dict[str, Any] = {}
    source = None
    if path is not None:
        source = str(path)
        data = _resolve_relative(read_config_file(path), path.resolve().parent)
    try:
        return Settings(**data)
    except ValidationError as exc:
        raise ConfigError([_format_error(e) for e in exc.errors()], source) from None
