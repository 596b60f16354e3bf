# Shared by scripts/test, scripts/run-example and .ci/run: a venv with the package installed.
# Sourced, not run. Installs from the lock (requirements/ci.txt, a constraints file made by
# scripts/lock), and again only when pyproject.toml or the lock changed since the last install.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VENV:-$ROOT/.venv}"

pick_python() {
  # The lock is made for Python 3.11, so it comes first. A pyenv shim for a version that is
  # installed but not selected fails when run: running it (quietly) is the test.
  for py in python3.11 python3.12 python3.13 python3; do
    if "$py" -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1; then
      echo "$py"; return 0
    fi
  done
  echo "Python >= 3.11 is required" >&2; return 1
}

apt_install() {
  # Installs Debian packages when missing (root only; otherwise says what to install).
  local missing=()
  for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  ((${#missing[@]})) || return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing ${missing[*]} with apt-get" >&2
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "please install: ${missing[*]}" >&2; return 1
  fi
}

ensure_venv() {
  local extras="$1"
  if [ ! -x "$VENV/bin/python" ]; then
    "$(pick_python)" -m venv "$VENV"
    "$VENV/bin/pip" install -q --upgrade pip
  fi
  local stamp="$VENV/.drp-installed-$extras" lock="$ROOT/requirements/ci.txt"
  if [ ! -f "$stamp" ] || [ "$ROOT/pyproject.toml" -nt "$stamp" ] || [ "$lock" -nt "$stamp" ]; then
    # (pip.conf on these machines names local mirrors that may not exist: drop that warning.)
    "$VENV/bin/pip" install -q -c "$lock" -e "$ROOT[$extras]" 2> >(grep -v "^WARNING: Location 'file:" >&2)
    touch "$stamp"
  fi
}
