#!/usr/bin/env bash
# Prints the path of a Python 3.10 interpreter for the Rasa environment, or explains in one line
# why there is none. Order: $PYTHON310, pyenv's installed 3.10.x versions, python3.10 on PATH.
set -u
ok() { "$1" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 10) else 1)' >/dev/null 2>&1; }
if [ -n "${PYTHON310:-}" ]; then
  ok "$PYTHON310" && { echo "$PYTHON310"; exit 0; }
  echo "PYTHON310=$PYTHON310 is not a working Python 3.10 interpreter." >&2; exit 1
fi
root=$(pyenv root 2>/dev/null || echo "${PYENV_ROOT:-$HOME/.pyenv}")
for dir in $(ls -d "$root"/versions/3.10.* 2>/dev/null | sort -V -r); do
  ok "$dir/bin/python3.10" && { echo "$dir/bin/python3.10"; exit 0; }
done
for cand in $(type -ap python3.10) /usr/bin/python3.10 /usr/local/bin/python3.10; do
  [ -x "$cand" ] && ok "$cand" && { echo "$cand"; exit 0; }
done
echo "No Python 3.10 found (Rasa 3.6 needs it): install one with 'pyenv install 3.10' or set PYTHON310=/path/to/python3.10." >&2
exit 1
