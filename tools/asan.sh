#!/usr/bin/env bash
# The test suite under AddressSanitizer + UndefinedBehaviorSanitizer (issue 21; docs/sanitizers.md).
# Builds the core, the extension wabbit._core and the C++ tests (tests/cpp) with
# -fsanitize=address,undefined -fno-sanitize-recover=undefined (g++, -O1, assertions on) into a
# throwaway virtual environment (the normal install is untouched), runs the C++ tests, then pytest
# with the ASan runtime preloaded and leak checking on. Subprocesses (the CLI, servers, mpiexec's
# ranks) run sanitized too. Every report of every process is written to $work/logs/; any report
# fails the run, as does any failing test. The Python interpreter and the other extensions are not
# instrumented; every access our code makes is. tools/lsan.supp suppresses leaks of the interpreter
# and of other packages only.
#
#   bash tools/asan.sh                       # the C++ tests, then the whole pytest suite
#   bash tools/asan.sh tests/test_cli.py -x  # arguments = pytest arguments
#   ASAN_SKIP_CPP=1 bash tools/asan.sh ...   # without the C++ tests
#   ASAN_BUILD_ONLY=1 bash tools/asan.sh     # only build
# Environment: ASAN_WORK (default /tmp/wabbit-asan), ASAN_JOBS (build -j, default 2).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="${ASAN_WORK:-/tmp/wabbit-asan}"
export CMAKE_BUILD_PARALLEL_LEVEL="${ASAN_JOBS:-2}"
lib="$(g++ -print-file-name=libasan.so)"
[[ -f $lib ]] || { echo "asan.sh: libasan.so not found (g++ -print-file-name=libasan.so)" >&2; exit 1; }
# libstdc++ preloaded with it: the interpreter does not link it, and ASan's __cxa_throw interceptor
# finds no real __cxa_throw when libstdc++ comes in later with the extension (CHECK failed at the
# first C++ exception).
lib="$lib:$(readlink -f "$(g++ -print-file-name=libstdc++.so)")"

# The build: scikit-build-core keeps $work/build between runs, so a second run is incremental;
# ccache (when present) shares objects across build folders and fresh clones.
launcher=()
if command -v ccache >/dev/null; then
  launcher=(--config-settings=cmake.define.CMAKE_CXX_COMPILER_LAUNCHER=ccache)
  export CCACHE_BASEDIR="$root" CCACHE_NOHASHDIR=1
fi
[[ -x $work/venv/bin/python ]] || python3 -m venv --system-site-packages "$work/venv"
"$work/venv/bin/pip" install -q --no-build-isolation --no-deps "$root" \
  --config-settings=cmake.define.WABBIT_ASAN=ON --config-settings=cmake.define.WABBIT_TESTS=ON \
  --config-settings=install.strip=false --config-settings=cmake.build-type=Debug \
  --config-settings=build-dir="$work/build" "${launcher[@]}"
[[ -n ${ASAN_BUILD_ONLY:-} ]] && exit 0

# The sanitizers' options. detect_leaks: LeakSanitizer at each process's exit. log_path: reports go
# to files (one per process) rather than to stderr, so a test reading a subprocess's stderr sees what
# it sees without ASan, and no report of a server or an MPI rank goes unseen. halt_on_error and
# abort_on_error: the first error ends that process. detect_odr_violation=0: duplicate globals
# across the uninstrumented libraries are not ours. UBSan: -fno-sanitize-recover=undefined already
# makes each report fatal. PYTHONMALLOC=malloc: Python objects are malloc blocks, so an overrun from
# our code into one is seen, and LSan follows the pointers Python objects hold to our memory
# (pymalloc's arenas are mmap'ed: a C++ object reachable only from a Python object would look leaked).
logs="$work/logs"
asan_options="detect_leaks=1:malloc_context_size=${ASAN_MALLOC_CONTEXT:-5}:halt_on_error=1:abort_on_error=1:detect_odr_violation=0:log_path=$logs/asan.log"
lsan_options="suppressions=$root/tools/lsan.supp:print_suppressions=0"
ubsan_options="print_stacktrace=1:halt_on_error=1:log_path=$logs/ubsan.log"

# The interpreter the tests run: a wrapper around the venv's python that preloads the ASan runtime
# and sets the options, so that sys.executable (what the tests start as subprocesses, mpiexec's ranks
# included) runs sanitized even under a test's own environment (env={"PATH": ...}). WABBIT_ASAN=1
# tells the tests (tests/conftest.py skips the few that set a ulimit -v, under which ASan cannot
# start). Only Python processes are sanitized: a .pth file in the venv takes LD_PRELOAD out of each
# interpreter's environment as it starts, so the other programs the tests start (shells, sort, tr,
# git, mpiexec) run as they are, and their own leaks are not reported as ours. MPI ranks run without
# leak checking: LeakSanitizer's tracer thread dies in them ("Tracer caught signal 11", in
# tests/test_distributed.py's ranks), while ASan and UBSan check every access as elsewhere.
py="$work/venv/bin/python-asan"
real="$(readlink -f "$work/venv/bin/python")"
cat >"$py" <<EOF
#!/bin/bash
# Written by tools/asan.sh: the venv's python with the ASan runtime preloaded.
export LD_PRELOAD="$lib"
export ASAN_OPTIONS="$asan_options" LSAN_OPTIONS="$lsan_options" UBSAN_OPTIONS="$ubsan_options"
export PYTHONMALLOC=malloc WABBIT_ASAN=1
# An MPI rank (mpiexec sets PMI_RANK): no LeakSanitizer, whose tracer dies in MPICH's ranks.
if [[ -n \${PMI_RANK:-} ]]; then export ASAN_OPTIONS="\${ASAN_OPTIONS/detect_leaks=1/detect_leaks=0}"; fi
exec -a "\$0" "$real" "\$@"
EOF
chmod +x "$py"
site="$("$work/venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
echo 'import os; os.environ.pop("LD_PRELOAD", None)  # tools/asan.sh: only Python children are sanitized' \
  >"$site/wabbit_asan_unpreload.pth"
rm -rf "$logs"
mkdir -p "$logs"

failed=0
cd "$root"
if [[ -z ${ASAN_SKIP_CPP:-} ]]; then
  # The C++ tests are linked with the runtime (no preload); reports go to the same folder.
  ASAN_OPTIONS="$asan_options" LSAN_OPTIONS="$lsan_options" UBSAN_OPTIONS="$ubsan_options" \
    ctest --test-dir "$work/build" --output-on-failure || failed=1
fi
"$py" -m pytest -p no:cacheprovider "$@" || failed=1
if compgen -G "$logs/*" >/dev/null; then
  cat "$logs"/*
  echo "asan.sh: the sanitizers reported the errors above (logs in $logs)" >&2
  failed=1
fi
[[ $failed -eq 0 ]] && echo "asan.sh: no sanitizer report, every test passed"
exit $failed
