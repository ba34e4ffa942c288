"""The operator's flags: checked at start like the administrator's input, and shown on
the pages (the State's block only with --state-marks)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.composition.test_cli import visioguichet
from visioguichet.app import build_app
from visioguichet.settings import Settings


@pytest.mark.parametrize(
    ("flag", "value", "says"),
    [
        ("--operator-colour", "#ffcc00", "contrast of 1.5:1 with white"),
        ("--operator-colour", "navy", "expected a colour like #000091"),
        ("--operator-name", "Mairie\u202ede Test", "operator name"),
        ("--operator-logo", "logo.svg", "SVG"),
        ("--operator-logo", "missing.png", "cannot read"),
    ],
)
def test_a_bad_operator_flag_stops_the_start_with_a_sentence(
    tmp_path: Path, flag: str, value: str, says: str
) -> None:
    (tmp_path / "logo.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg"/>')
    if flag == "--operator-logo":
        value = str(tmp_path / value)
    result = visioguichet("serve", "--data-dir", str(tmp_path), flag, value)
    assert result.returncode == 2, result.stderr
    assert says in result.stderr and "Traceback" not in result.stderr


async def test_the_states_block_shows_only_when_the_operator_is_entitled(
    aiohttp_client: Any, tmp_path: Path
) -> None:
    plain = await aiohttp_client(build_app(Settings(data_dir=tmp_path / "a")))
    page = await (await plain.get("/book")).text()
    assert 'class="operator-name">Visioguichet</span>' in page
    assert "République" not in page and "<!--#" not in page
    # the State's blue is one of its marks: not the default of an operator not entitled
    assert "--brand: #0b4fa3;" in await (await plain.get("/site.css")).text()
    entitled = await aiohttp_client(
        build_app(Settings(data_dir=tmp_path / "b", state_marks=True, operator_name="Préfecture"))
    )
    page = await (await entitled.get("/book")).text()
    assert '<span class="state-name">République<br>française</span>' in page
    assert 'class="operator-name">Préfecture</span>' in page
    css = await (await entitled.get("/site.css")).text()
    assert css == ":root { --brand: #000091; --brand-dark: #00006c; }\n"
