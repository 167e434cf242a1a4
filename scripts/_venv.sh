# Shared by scripts/demo and scripts/test: make .venv with a Python 3.11+ and
# install inboxbot into it with the locked versions. Source it, don't run it.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PYTHON="${PYTHON:-python3}"
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "inboxbot needs Python 3.11 or newer; set PYTHON=/path/to/python3.11" >&2
  exit 2
fi
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
install_inboxbot() {  # $1: the extras, e.g. "" or "[dev]"
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e ".$1" 2> >(grep -v "^WARNING: Location" >&2)
  # pip byte-compiles what it installs, but an editable install leaves our own modules to the
  # interpreter, which writes no bytecode where PYTHONDONTWRITEBYTECODE is set (as on CI): then
  # every command would compile the whole package from source first (about 0.4 s).
  .venv/bin/python -m compileall -q -j 0 inboxbot migrations >/dev/null
}
