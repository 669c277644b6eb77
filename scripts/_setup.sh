# Sourced by scripts/demo and scripts/test: make .venv, install torch (CPU wheel) then the project.
# Re-installs only when pyproject.toml changes (stamp file), so repeated runs start fast.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PY" -m venv .venv
fi
stamp=.venv/.optsearch-installed
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    .venv/bin/python -m pip install -q --upgrade pip >/dev/null 2>&1 || true
    # torch first, pinned: this version's CPU wheel is local; a bare 'torch' pulls a CUDA build.
    if ! .venv/bin/python -c "import torch" >/dev/null 2>&1; then
        .venv/bin/python -m pip install -q "torch==2.13.0"
    fi
    .venv/bin/python -m pip install -q -e ".[test]"
    echo "$want" > "$stamp"
fi
export PATH="$PWD/.venv/bin:$PATH"
