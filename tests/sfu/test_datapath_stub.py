"""The C forwarder's stub (``sfu/_datapath.pyi``) says what the built module has.

mypy reads the stub, never the C: a type, method or member renamed or added in
``_datapath.c`` and not in the stub would let wrong code pass the type check. stubtest
imports the built module and compares the two.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# A C type's __init__ and __call__ show as (*args, **kwargs) at run time whatever they
# parse: only the stub can say which arguments they take.
SLOT_SIGNATURES = r"sfu\._datapath\.\w+\.__(init|call)__"


def test_the_datapath_stub_matches_the_built_module(tmp_path: Path) -> None:
    config = tmp_path / "mypy.ini"
    # the stub alone is judged here; the rest of sfu has its own check in scripts/test.sh
    config.write_text(
        f"[mypy]\npython_version = 3.11\ncache_dir = {tmp_path / 'cache'}\n"
        "[mypy-sfu.*]\nignore_errors = True\n[mypy-sfu._datapath]\nignore_errors = False\n"
    )
    allowlist = tmp_path / "allowlist.txt"
    allowlist.write_text(SLOT_SIGNATURES + "\n")
    command = [sys.executable, "-m", "mypy.stubtest", "sfu._datapath", "--ignore-disjoint-bases"]
    command += ["--mypy-config-file", str(config), "--allowlist", str(allowlist)]
    result = subprocess.run(
        command,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
