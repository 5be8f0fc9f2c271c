#!/usr/bin/env bash
# The core's own tests (tests/cpp), built without Python and run by CTest. Builds in build/cpp-tests
# (a Debug build with assertions, so a broken invariant fails here rather than in a user's run).
#
#   bash tools/cpp_tests.sh            # ~1 minute on 2 cores after the first build
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${WABBIT_CPP_TEST_DIR:-build/cpp-tests}"
cmake -S . -B "$dir" -DWABBIT_PYTHON=OFF -DWABBIT_TESTS=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build "$dir" -j2
ctest --test-dir "$dir" --output-on-failure
