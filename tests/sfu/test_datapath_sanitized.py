"""The C datapath under AddressSanitizer and UndefinedBehaviorSanitizer.

A read one byte past a packet does not crash and rarely changes a result: only a
sanitizer sees it. This builds ``sfu/_datapath.c`` and ``srtp_aead.c`` with
``-fsanitize=address,undefined`` into a temporary directory and runs the datapath
tests (the differential tests and their datagram fuzz included) in a subprocess that
loads that build instead of the installed one; any sanitizer report fails the test.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ("sfu/_datapath.c", "sfu/srtp_aead.c")
TESTS = (
    "tests/sfu/test_datapath.py",
    "tests/sfu/test_datapath_differential.py",
    "tests/sfu/test_vp8_descriptor.py",
    "tests/sfu/test_srtp_aead.py",
)
WARNINGS = ("-Wall", "-Wextra", "-Wno-unused-parameter", "-Wno-missing-field-initializers")
SANITIZER_REPORTS = ("ERROR: AddressSanitizer", "runtime error:", "ERROR: LeakSanitizer")

# Loads the sanitized build as sfu._datapath before anything imports the installed one,
# then runs pytest in this process.
BOOTSTRAP = """
import importlib.util, sys
spec = importlib.util.spec_from_file_location("sfu._datapath", sys.argv[1])
module = importlib.util.module_from_spec(spec)
sys.modules["sfu._datapath"] = module
spec.loader.exec_module(module)
import sfu
sfu._datapath = module
print("sanitized datapath:", module.__file__, flush=True)
import pytest
sys.exit(pytest.main(sys.argv[2:]))
"""


def build_sanitized(sources: Path, out: Path) -> Path:
    """Compile the extension from ``sources`` (a tree with sfu/*.c) into ``out``."""
    target = out / f"_datapath{sysconfig.get_config_var('EXT_SUFFIX')}"
    command = [
        "gcc",
        "-shared",
        "-fPIC",
        "-O1",
        "-g",
        "-fsanitize=address,undefined",
        "-fno-omit-frame-pointer",
        "-Werror",
        *WARNINGS,
        f"-I{sysconfig.get_paths()['include']}",
        f"-I{sources / 'sfu'}",
        *(str(sources / source) for source in SOURCES),
        "-lcrypto",
        "-o",
        str(target),
    ]
    subprocess.run(command, check=True, capture_output=True, text=True, timeout=300)
    return target


def run_sanitized(extension: Path, tests: tuple[str, ...] = TESTS) -> tuple[int, str]:
    """Run ``tests`` on the sanitized build: the exit status, and pytest's output followed
    by every sanitizer report (written to files: pytest captures the test's stderr, and
    a sanitizer that halts the process would take that capture with it)."""
    libasan = subprocess.run(
        ["gcc", "-print-file-name=libasan.so"], capture_output=True, text=True, check=True
    ).stdout.strip()
    logs = extension.parent / "sanitizer"
    env = dict(
        os.environ,
        LD_PRELOAD=libasan,
        # CPython keeps its objects until exit by design: no leak check
        ASAN_OPTIONS=f"detect_leaks=0:log_path={logs}",
        UBSAN_OPTIONS=f"halt_on_error=1:print_stacktrace=1:log_path={logs}",
        PYTHONMALLOC="malloc",  # Python's own blocks checked too, not pooled
    )
    result = subprocess.run(
        [sys.executable, "-c", BOOTSTRAP, str(extension), "-q", "-x", "-p", "no:cacheprovider",
         "-o", "addopts=", *tests],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=800,
    )  # fmt: skip
    reports = "".join(log.read_text() for log in sorted(extension.parent.glob("sanitizer.*")))
    return result.returncode, result.stdout + result.stderr + reports


@pytest.mark.skipif(shutil.which("gcc") is None, reason="needs gcc with libasan")
def test_the_datapath_tests_and_a_datagram_fuzz_pass_under_asan_and_ubsan(
    tmp_path: Path,
) -> None:
    extension = build_sanitized(ROOT, tmp_path)
    status, output = run_sanitized(extension)
    assert f"sanitized datapath: {extension}" in output, output[-4000:]
    reports = [line for line in output.splitlines() if any(r in line for r in SANITIZER_REPORTS)]
    assert not reports, output[-8000:]
    assert status == 0, output[-8000:]
