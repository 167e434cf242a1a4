"""Configuration: defaults, validation naming the key, environment overrides."""

from __future__ import annotations

from datetime import date, time
from pathlib import Path

import pytest

from inboxbot.config import ConfigError, RegisterSettings, load_settings


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "inboxbot.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("INBOXBOT_CONFIG", "INBOXBOT_DATABASE_URL", "INBOXBOT_DATA_DIR"):
        monkeypatch.delenv(name, raising=False)


def test_no_config_gives_the_embedded_default() -> None:
    settings = load_settings()
    assert settings.effective_database_url == "sqlite:///inboxbot-data/inboxbot.sqlite3"
    assert settings.outbox_folder == Path("inboxbot-data/outbox")
    assert settings.calendar.cutoff == time(17, 0)


def test_the_example_config_is_valid() -> None:
    example = Path(__file__).parents[2] / "config.example.toml"
    settings = load_settings(example)
    assert settings.calendar.cutoff == time(17, 0)


def test_the_example_documents_the_register_defaults(tmp_path: Path) -> None:
    example = (Path(__file__).parents[2] / "config.example.toml").read_text(encoding="utf-8")
    section = example.split("# [register]\n", 1)[1].split("\n\n", 1)[0]
    keys = [line.removeprefix("# ") for line in section.splitlines() if " = " in line]
    settings = load_settings(write(tmp_path, "[register]\n" + "\n".join(keys) + "\n"))
    assert len(keys) == len(RegisterSettings.model_fields)
    assert settings.register == RegisterSettings()


def test_relative_paths_are_taken_from_the_config_files_folder(tmp_path: Path) -> None:
    path = write(tmp_path, 'data_dir = "data"\ndatabase_url = "sqlite:///db/bot.sqlite3"\n')
    settings = load_settings(path)
    assert settings.data_dir == tmp_path / "data"
    assert settings.effective_database_url == f"sqlite:///{tmp_path / 'db/bot.sqlite3'}"
    assert settings.outbox_folder == tmp_path / "data" / "outbox"


@pytest.mark.parametrize(
    ("text", "key", "why"),
    [
        ('[calendar]\ncutoff = "25:00"\n', "calendar.cutoff", "hour value is outside"),
        ('[calendar]\nclosure_days = ["not a date"]\n', "calendar.closure_days[0].date", "date"),
        ('[calendr]\ncutoff = "16:00"\n', "calendr", "unknown key"),
        ('[outgoing]\ntransport = "pigeon"\n', "outgoing.transport", "'file'"),
        (
            '[classification]\ncouncil_ref_pattern = "CAS-("\n',
            "classification.council_ref_pattern",
            "regular",
        ),
        ('database_url = "mysql://x"\n', "database_url", "sqlite"),
        ("[logging]\nlevel = 3\n", "logging.level", "DEBUG"),
        ('[register]\ndate_format = "dd/mm/yyyy"\n', "register.date_format", "strftime"),
        ('[register]\nencoding = "klingon"\n', "register.encoding", "unknown text encoding"),
        ('[register]\nsubject = "reference"\n', "register", "must all be different"),
    ],
)
def test_a_bad_value_names_the_key(tmp_path: Path, text: str, key: str, why: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, text))
    lines = caught.value.lines()
    assert len(lines) == 1
    assert f": {key}: " in lines[0]
    assert why in lines[0]


def test_unreadable_toml_says_where(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, "data_dir = \n"))
    assert "not valid TOML" in caught.value.lines()[0]
    assert "line 1" in caught.value.lines()[0]


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_settings(tmp_path / "nope.toml")


def test_environment_wins_over_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, 'database_url = "sqlite:///a.sqlite3"\n')
    monkeypatch.setenv("INBOXBOT_DATABASE_URL", "postgresql://bot@db.example/inboxbot")
    monkeypatch.setenv("INBOXBOT_CALENDAR__CUTOFF", "16:30")
    settings = load_settings(path)
    assert settings.effective_database_url == "postgresql+psycopg://bot@db.example/inboxbot"
    assert settings.calendar.cutoff == time(16, 30)


def test_bad_environment_value_names_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INBOXBOT_CALENDAR__CUTOFF", "teatime")
    with pytest.raises(ConfigError, match=r"calendar\.cutoff"):
        load_settings()


def test_config_path_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(
        tmp_path, '[calendar]\nclosure_days = [2026-12-29, {date = 2026-12-30, name = "Shutdown"}]\n'
    )
    monkeypatch.setenv("INBOXBOT_CONFIG", str(path))
    calendar = load_settings().working_calendar()
    assert not calendar.is_working_day(date(2026, 12, 29))
    assert calendar.holiday_name(date(2026, 12, 30)) == "Shutdown"
