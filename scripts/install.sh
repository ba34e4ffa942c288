#!/usr/bin/env bash
# Installs Visioguichet into ./.venv (created if missing). Usage: scripts/install.sh [EXTRA]
# where EXTRA is an optional-dependency group of pyproject.toml, e.g. "test".
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
  echo "need root (or sudo) to run: $*" >&2; return 1; fi; }

apt_updated=""
apt_install() {
  [ -n "$apt_updated" ] || { as_root apt-get update -q; apt_updated=1; }
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@"
}

python3 -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' || {
  echo "Visioguichet needs Python 3.11 or newer (found $(python3 --version 2>&1))" >&2; exit 1; }
# The SFU's per-packet path is a small C extension (sfu/_datapath.c, sfu/srtp_aead.c): it
# needs a C compiler, Python's headers and OpenSSL's (libcrypto, for SRTP with AES-GCM).
# Debian ships the headers of its python3 apart.
python_h="$(python3 -c 'import sysconfig; print(sysconfig.get_paths()["include"])')/Python.h"
if ! command -v cc >/dev/null || [ ! -f "$python_h" ] || [ ! -f /usr/include/openssl/evp.h ]; then
  apt_install gcc libc6-dev python3-dev libssl-dev
fi
if [ ! -x .venv/bin/python ]; then
  # Debian's python3 ships venv/ensurepip separately.
  python3 -c 'import ensurepip, venv' 2>/dev/null || apt_install python3-venv
  python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".${1:+[$1]}"

if [ "${1:-}" = "test" ] && ! command -v chromium >/dev/null; then
  apt_install chromium   # Debian's Chromium, driven by Playwright in the browser tests
fi
if [ "${1:-}" = "test" ] && ! command -v firefox-esr >/dev/null; then
  # tests/web/test_firefox_call.py: Debian's Firefox ESR in a call with Chromium, driven
  # over WebDriver BiDi by a small Python client (tests/support/firefox.py): no driver to install
  apt_install firefox-esr
fi
if [ "${1:-}" = "test" ] && ! command -v redis-server >/dev/null; then
  apt_install redis-server   # tests/cluster: several nodes meet in a private redis-server
fi
if [ "${1:-}" = "test" ] && ! command -v nginx >/dev/null && [ ! -x /usr/sbin/nginx ]; then
  # tests/nodes/test_deploy_examples.py runs deploy/nginx's example in front of a node.
  # RUNLEVEL=1: the package's own nginx service is not started (the test runs its own).
  [ -n "$apt_updated" ] || { as_root apt-get update -q; apt_updated=1; }
  as_root env RUNLEVEL=1 DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends nginx
fi
if [ "${1:-}" = "test" ] && { ! command -v nft >/dev/null || ! command -v tc >/dev/null; }; then
  # tests/web/test_real_link.py: network namespaces and tc shaping (iproute2), random loss (nftables)
  apt_install iproute2 nftables
fi
