#!/usr/bin/env bash
# The multithreaded tests under ThreadSanitizer (issue 5): builds the core with -fsanitize=thread
# into a throwaway virtual environment (the normal install is untouched), then runs
# tests/test_threads.py with the TSan runtime preloaded (the Python interpreter itself is not
# instrumented; every access our extension makes is). Fails if TSan reports anything.
#
#   bash tools/tsan.sh [pytest arguments]   # tests/test_threads.py and the tests named
#   TSAN_BUILD_ONLY=1 bash tools/tsan.sh    # only build (TSAN_WORK: the folder, default /tmp/wabbit-tsan)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="${TSAN_WORK:-/tmp/wabbit-tsan}"
export CMAKE_BUILD_PARALLEL_LEVEL="${TSAN_JOBS:-2}"
# ccache (when present) shares objects across build folders and fresh clones.
launcher=()
if command -v ccache >/dev/null; then
  launcher=(--config-settings=cmake.define.CMAKE_CXX_COMPILER_LAUNCHER=ccache)
  export CCACHE_BASEDIR="$root" CCACHE_NOHASHDIR=1
fi
[[ -x $work/venv/bin/python ]] || python3 -m venv --system-site-packages "$work/venv"
"$work/venv/bin/pip" install -q --no-build-isolation --no-deps "$root" \
  --config-settings=cmake.define.WABBIT_TSAN=ON --config-settings=install.strip=false \
  --config-settings=cmake.build-type=RelWithDebInfo --config-settings=build-dir="$work/build" "${launcher[@]}"
[[ -n ${TSAN_BUILD_ONLY:-} ]] && exit 0
lib="$(g++ -print-file-name=libtsan.so)"
rm -f "$work"/tsan.log.*
cd "$root"
LD_PRELOAD="$lib" TSAN_OPTIONS="halt_on_error=0 report_signal_unsafe=0 log_path=$work/tsan.log" \
  "$work/venv/bin/python" -m pytest -q -p no:cacheprovider tests/test_threads.py "$@"
if ls "$work"/tsan.log.* >/dev/null 2>&1; then
  cat "$work"/tsan.log.*
  echo "ThreadSanitizer reported the races above" >&2
  exit 1
fi
echo "ThreadSanitizer: no reports"
