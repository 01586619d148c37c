#!/usr/bin/env bash
# Runs the headless Neovim end-to-end test (tests/editors/nvim_e2e.lua) with one nvim binary against the real
# `pyengineer serve`, on a fresh scenario repository: git repo on main with one commit, then model.py edited to
# import torch.
#   tests/editors/run-neovim.sh /path/to/nvim [/path/to/pyengineer] [test script, default nvim_e2e.lua]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
nvim=${1:?usage: run-neovim.sh NVIM [PYENGINEER]}
server=${2:-${PYENGINEER_SERVER:-$root/.venv/bin/pyengineer}}
script=$here/${3:-nvim_e2e.lua}
[ -x "$server" ] || { echo "pyengineer server not found at $server" >&2; exit 2; }

base=$(mktemp -d "${TMPDIR:-/tmp}/pyengineer-nvim-XXXXXX")
# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() { [ "${PYENGINEER_KEEP_SCENARIO:-}" = 1 ] || rm -rf "$base"; }
trap cleanup EXIT

repo=$base/demo
mkdir -p "$repo" "$base/xdg/config" "$base/xdg/data" "$base/xdg/state" "$base/xdg/cache"
git init -q -b main "$repo"
git -C "$repo" config user.name "pyengineer test"
git -C "$repo" config user.email "test@pyengineer.invalid"
git -C "$repo" config commit.gpgsign false
printf '[project]\nname = "demo"\nversion = "0.1.0"\n' > "$repo/pyproject.toml"
printf 'def train():\n    return 1\n' > "$repo/model.py"
git -C "$repo" add .
git -C "$repo" commit -q -m initial
printf 'import torch\n\n\ndef train():\n    return torch.zeros(1)\n' > "$repo/model.py"
cp "$repo/model.py" "$base/model.py.expected"

cd "$repo"
if [ "$(basename "$script")" = nvim_layouts.lua ]; then
  # The README's manual setup clones into ~/src: HOME is this run's own (Neovim 0.7 reads it once at start,
  # so it is set here rather than from the script), never the user's.
  export HOME=$base
fi
unset ANTHROPIC_API_KEY  # the :PyengineerAsk check expects no key
status=0
XDG_CONFIG_HOME=$base/xdg/config XDG_DATA_HOME=$base/xdg/data XDG_STATE_HOME=$base/xdg/state \
XDG_CACHE_HOME=$base/xdg/cache NVIM_LOG_FILE=$base/nvim.log \
PYENGINEER_PLUGIN=$root/neovim PYENGINEER_SERVER=$server PYENGINEER_EXPECTED=$base/model.py.expected \
PYENGINEER_REPO=$repo \
  timeout 180 "$nvim" --headless -i NONE -n -u "$script" model.py </dev/null || status=$?
# --headless writes messages to stderr without a final newline.
echo
exit "$status"
