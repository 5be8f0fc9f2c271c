#!/usr/bin/env bash
# The development loop without installing: builds the extension into build/dev (CMake + Ninja,
# Release) and links it into python/wabbit/, so that `PYTHONPATH=$PWD/python python -m pytest`
# and `PYTHONPATH=$PWD/python python -m wabbit ...` use this checkout. Works in any git worktree
# (an editable pip install would shadow the other worktrees).
#
#   bash tools/dev_build.sh [checkout]     # default: this checkout
set -euo pipefail
cd "${1:-$(dirname "$0")/..}"
python -c "import nlohmann_json" 2>/dev/null || pip install -q nlohmann_json  # the JSON headers (pyproject.toml's build requirement)
# ccache, when the machine has it, shares compiled objects between worktrees (paths under the
# checkout are hashed relative to it).
launcher=()
if command -v ccache >/dev/null; then
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=1
fi
if [ ! -f build/dev/build.ninja ]; then
  cmake -S . -B build/dev -G Ninja -DCMAKE_BUILD_TYPE=Release -Dpybind11_DIR="$(python -m pybind11 --cmakedir)" \
    "${launcher[@]}" >/dev/null
fi
cmake --build build/dev -j2
so=$(ls build/dev/_core*.so)
ln -sf "$PWD/$so" "python/wabbit/$(basename "$so")"
echo "built $so"
