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
    log=.venv/install.log
    echo "setting up .venv (torch 2.13.0 CPU, then optsearch[test]); log: $log" >&2
    {
        # torch first, pinned: this version's CPU wheel is local; a bare 'torch' pulls a CUDA build.
        if ! .venv/bin/python -c "import torch" >/dev/null 2>&1; then
            .venv/bin/python -m pip install "torch==2.13.0"
        fi
        .venv/bin/python -m pip install -e ".[test]"
    } >"$log" 2>&1 || { tail -n 40 "$log" >&2; echo "setup failed; see $log" >&2; exit 1; }
    echo "$want" > "$stamp"
fi
export PATH="$PWD/.venv/bin:$PATH"
