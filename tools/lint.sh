#!/usr/bin/env bash
# The tree's style and type checks, as .ci/run runs them: ruff (lint and format), mypy on
# python/wabbit, clang-format on cpp/. Fails on the first finding; `--fix` rewrites instead.
#
#   pip install ".[lint]" && bash tools/lint.sh [--fix]
set -euo pipefail
cd "$(dirname "$0")/.."
py=(python tests bench tools)
mapfile -t cxx < <(git ls-files 'cpp/*.h' 'cpp/*.cc' 'tests/cpp/*.h' 'tests/cpp/*.cc')
if [ "${1:-}" = "--fix" ]; then
  ruff check --fix "${py[@]}"
  ruff format "${py[@]}"
  clang-format -i "${cxx[@]}"
else
  ruff check "${py[@]}"
  ruff format --check "${py[@]}"
  clang-format --dry-run --Werror "${cxx[@]}"
fi
mypy
