"""The ``careline`` command, run against a real database of each engine."""

from __future__ import annotations

import re

import pytest
import typer
from sqlalchemy import text
from typer.testing import CliRunner

from careline.cli import app
from careline.db import make_engine
from tests.support.databases import DatabaseFactory

runner = CliRunner()

def _commands(group: typer.Typer, prefix: list[str]) -> list[list[str]]:
    """Every command and group of the CLI, read from the Typer app itself."""
    found = [prefix]
    for command in group.registered_commands:
        found.append([*prefix, command.name or (command.callback.__name__ if command.callback else "")])
    for sub in group.registered_groups:
        if sub.typer_instance and sub.name:
            found += _commands(sub.typer_instance, [*prefix, sub.name])
    return found


COMMANDS = _commands(app, [])


def test_the_command_list_is_complete() -> None:
    assert ["users", "reset-mfa"] in COMMANDS
    assert ["audit", "verify"] in COMMANDS


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_has_help(command: list[str]) -> None:
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0
    assert "Usage:" in result.output


@pytest.fixture
def database_url(databases: DatabaseFactory, monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> str:
    url = databases.fresh()
    monkeypatch.setenv("CARELINE_DATABASE_URL", url)
    monkeypatch.setenv("CARELINE_SECRET_KEY", "cli-test-secret-key")
    return url


def _tamper(url: str) -> None:
    engine = make_engine(url)
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("ALTER TABLE audit_log DISABLE TRIGGER USER"))
        else:
            connection.execute(text("DROP TRIGGER audit_log_no_update"))
        connection.execute(text("UPDATE audit_log SET action = 'nothing.happened' WHERE seq = 1"))
    engine.dispose()


class TestUsersAndAudit:
    def test_create_token_revoke_and_verify(self, database_url: str) -> None:
        created = runner.invoke(app, ["users", "create", "ana", "--role", "agent", "--display-name", "Ana Rivera",
                                      "--password-stdin"], input="a long enough passphrase\n")
        assert created.exit_code == 0, created.output
        assert "Created agent ana." in created.output

        token = runner.invoke(app, ["users", "token", "ana", "--name", "ehr"])
        assert token.exit_code == 0
        assert token.output.strip().startswith("cl_")

        revoked = runner.invoke(app, ["users", "revoke-token", "ana"])
        assert "Revoked 1 token." in revoked.output

        verified = runner.invoke(app, ["audit", "verify"])
        assert verified.exit_code == 0, verified.output
        assert "Audit chain intact: 3 entries." in verified.output

    def test_verify_fails_after_tampering(self, database_url: str) -> None:
        runner.invoke(app, ["users", "create", "ana", "--role", "agent", "--password-stdin"],
                      input="a long enough passphrase\n")
        _tamper(database_url)
        result = runner.invoke(app, ["audit", "verify"])
        assert result.exit_code == 1
        assert "entry 1 was altered after it was written" in result.output

    def test_bad_input_is_a_clear_error(self, database_url: str) -> None:
        weak = runner.invoke(app, ["users", "create", "ana", "--role", "agent", "--password-stdin"], input="short\n")
        assert weak.exit_code == 1
        assert "Use at least 12 characters." in weak.output
        unknown = runner.invoke(app, ["users", "token", "nobody"])
        assert unknown.exit_code == 1
        assert "No such user." in unknown.output
        bad_role = runner.invoke(app, ["users", "create", "ana", "--role", "janitor", "--password-stdin"])
        assert bad_role.exit_code == 2


class TestSimulate:
    def test_a_short_run_routes_real_contacts_and_prints_a_summary(self, database_url: str) -> None:
        result = runner.invoke(app, ["simulate", "--agents", "3", "--rate", "240/min", "--duration", "3s",
                                     "--seed", "1"])
        assert result.exit_code == 0, result.output
        assert re.search(r"Simulated \d+s: \d+ contacts", result.output)
        assert "simulated agents answered" in result.output
        assert "scheduling" in result.output  # the live table of the queues
        assert "+1" not in result.output  # callers' numbers are never printed
        engine = make_engine(database_url)
        with engine.connect() as connection:
            created = connection.execute(text("SELECT count(*) FROM interactions")).scalar_one()
            open_ = connection.execute(text("SELECT count(*) FROM interactions "
                                            "WHERE status NOT IN ('completed', 'abandoned')")).scalar_one()
            offline = connection.execute(text("SELECT count(*) FROM agents WHERE state = 'offline'")).scalar_one()
        engine.dispose()
        assert created > 3
        assert open_ == 0
        assert offline == 3
