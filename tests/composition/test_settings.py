"""Each setting is declared once and reaches the operator three ways: a flag with its
help, a VISIOGUICHET_* variable, a default; the flag wins over the variable."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import pytest

from tests.composition.test_cli import visioguichet
from visioguichet.cli import build_parser, settings_from_args
from visioguichet.settings import Settings


def serve_options() -> dict[str, argparse.Action]:
    parser = build_parser()
    [commands] = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    serve = commands.choices["serve"]
    return {a.dest: a for a in serve._actions if a.dest != "help"}


def test_serve_offers_every_setting_with_help_naming_its_variable() -> None:
    options = serve_options()
    assert set(options) == {f.name for f in dataclasses.fields(Settings)}
    for name, action in options.items():
        assert action.help and len(action.help) > 20, name
        assert "env VISIOGUICHET_" in action.help, name
    help_text = visioguichet("serve", "--help").stdout
    for action in options.values():
        assert action.option_strings[0] in help_text


def settings(argv: list[str]) -> Settings:
    parser = build_parser()
    return settings_from_args(parser.parse_args(["serve", *argv]), parser)


def test_every_setting_reads_its_variable_and_a_flag_wins(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("VISIOGUICHET_DEMO", "yes")
    monkeypatch.setenv("VISIOGUICHET_PORT", "9090")
    monkeypatch.setenv("VISIOGUICHET_UDP_PORTS", "40000-40100")
    monkeypatch.setenv("VISIOGUICHET_ICE_ADDRESS", "127.0.0.1, 10.1.2.3")
    monkeypatch.setenv("VISIOGUICHET_PURGE_AFTER_DAYS", "30")
    monkeypatch.setenv("VISIOGUICHET_METRICS_TOKEN", "")
    from_env = settings([])
    assert from_env.demo is True and from_env.port == 9090
    assert (from_env.udp_port_min, from_env.udp_port_max) == (40000, 40100)
    assert from_env.ice_addresses == ("127.0.0.1", "10.1.2.3")
    assert from_env.purge_after_days == 30
    assert from_env.metrics_token is None  # an empty variable is an unset one

    flagged = settings(["--port", "9191", "--ice-address", "127.0.0.1"])
    assert flagged.port == 9191 and flagged.ice_addresses == ("127.0.0.1",)
    assert settings([]).mail_from == Settings().mail_from


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        ("VISIOGUICHET_MAIL_FROM", "Visioguichet", "--mail-from must be an address"),
        ("VISIOGUICHET_UDP_PORTS", "50000-40000", "port range"),
        ("VISIOGUICHET_PORT", "eighty", "expected a port number"),
        ("VISIOGUICHET_LOG_FORMAT", "xml", "not one of console, json"),
        ("VISIOGUICHET_DEMO", "perhaps", "expected 1/true/yes/on"),
    ],
)
def test_a_bad_variable_is_refused_at_start_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, variable: str, value: str, says: str
) -> None:
    monkeypatch.setenv(variable, value)
    result = visioguichet("serve", "--data-dir", str(tmp_path))
    assert result.returncode == 2, result.stderr
    assert f"{variable}: " in result.stderr and says in result.stderr
    assert "Traceback" not in result.stderr
