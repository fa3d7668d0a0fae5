#!/usr/bin/env bash
# Installs the vendor's CLI `qq` (PyPI package qumulo-api, pinned) into .venv
# at the repository root, unless that exact version is already there, and
# prints the path of `qq` as the only line on stdout (progress goes to
# stderr), so callers can do: QQ="$(bash scripts/install-qq.sh)". On stderr
# it also prints the line that puts `qq` on PATH, as README shows it:
#     export PATH="<repository>/.venv/bin:$PATH"
# Needs python3 with the venv module (Debian: apt-get install python3-venv).
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION=7.10.2.1
QQ="$PWD/.venv/bin/qq"

# The path on stdout, and on stderr how to run it as a bare `qq`.
report() {
  echo "qq $VERSION is $QQ; to run it as qq: export PATH=\"$(dirname "$QQ"):\$PATH\"" >&2
  echo "$QQ"
}

if [ -x "$QQ" ] && [ "$("$QQ" --version 2>/dev/null)" = "qq $VERSION" ]; then
  report
  exit 0
fi

command -v python3 >/dev/null 2>&1 || { echo "error: python3 not found" >&2; exit 1; }
if [ ! -x .venv/bin/pip ]; then
  python3 -m venv .venv >&2 || {
    echo "error: python3 -m venv failed; install python3-venv" >&2
    exit 1
  }
fi
.venv/bin/pip install --quiet --disable-pip-version-check "qumulo-api==$VERSION" >&2
got="$("$QQ" --version)"
[ "$got" = "qq $VERSION" ] || { echo "error: installed $got, wanted qq $VERSION" >&2; exit 1; }
report
