#!/usr/bin/env bash
# The multithreaded tests under ThreadSanitizer (issue 5): builds the core with -fsanitize=thread
# into a throwaway virtual environment (the normal install is untouched), then runs
# tests/test_threads.py with the TSan runtime preloaded (the Python interpreter itself is not
# instrumented; every access our extension makes is). Fails if TSan reports anything.
#
#   bash tools/tsan.sh            # ~2 minutes on 2 cores
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="${TSAN_WORK:-/tmp/wabbit-tsan}"
python3 -m venv --system-site-packages "$work/venv"
"$work/venv/bin/pip" install -q --no-build-isolation "$root" \
  --config-settings=cmake.define.WABBIT_TSAN=ON --config-settings=install.strip=false \
  --config-settings=cmake.build-type=RelWithDebInfo --config-settings=build-dir="$work/build"
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
