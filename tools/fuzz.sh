#!/usr/bin/env bash
# libFuzzer targets (tests/fuzz/fuzz_*.cc), built with clang and ASan+UBSan in build/fuzz, run one at
# a time with leak detection on. See docs/fuzzing.md.
#
#   bash tools/fuzz.sh TARGET SECONDS [SEED_DIR...]   # TARGET: vw_text cb_event vw_json model cache
#   bash tools/fuzz.sh all SECONDS [SEED_DIR...]      #         serve_session, or all of them in turn
#   bash tools/fuzz.sh build                          # only build
# Each run first replays tests/fuzz/regressions/TARGET/* (inputs that once crashed the target).
#
# Seeds: tests/fuzz/seeds/, tests/data and ../shared/vw-reference (or /work/shared/vw-reference) when
# present, or the SEED_DIRs given. Their text files are cut into pieces of at most 2 KB (1 KB for the bandit
# and daemon targets, whose inputs are capped at 1 KB) at line ends and
# prefixed with each mode byte the target reads; they are copied to a temporary corpus, so the
# sources are never written. What a run finds is kept in build/fuzz/corpus-<target>/ and read by the next
# run (delete the folder to start from the seeds). A crash leaves its input as build/fuzz/crash-<target>-*
# and makes the script exit 1 (with `all`, after the other targets have run).
# Environment: WABBIT_FUZZ_DIR (build dir), WABBIT_FUZZ_JOBS (build -j, default 2), FUZZ_ARGS (extra
# libFuzzer flags, e.g. "-max_len=8192").
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
targets=(vw_text cb_event vw_json model cache serve_session)
dir="${WABBIT_FUZZ_DIR:-build/fuzz}"
jobs="${WABBIT_FUZZ_JOBS:-2}"
usage() { sed -n 5,7p "$0" >&2; exit 2; }
[[ $# -ge 1 ]] || usage
target=$1
secs=${2:-60}

sanitize="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -g -O1"
build() {
  command -v clang++ >/dev/null || { echo "fuzz.sh: clang++ not found (apt-get install -y clang)" >&2; exit 1; }
  local launcher=() cxx=(clang++)
  if command -v ccache >/dev/null; then  # shares the sanitized objects between worktrees, clones and rebuilds
    launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
    cxx=(ccache clang++)
    export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=1
  fi
  CC=clang CXX=clang++ cmake -S . -B "$dir" -DWABBIT_PYTHON=OFF -DWABBIT_TESTS=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_FLAGS="-fsanitize=fuzzer-no-link $sanitize" "${launcher[@]}" >/dev/null
  cmake --build "$dir" --target wabbit_core -j"$jobs"
  local t
  for t in "${targets[@]}"; do
    local src=tests/fuzz/fuzz_$t.cc out=$dir/fuzz_$t
    if [[ ! -x $out || $src -nt $out || tests/fuzz/fuzz_common.h -nt $out || $dir/libwabbit_core.a -nt $out ]]; then
      echo "fuzz.sh: building $out" >&2
      "${cxx[@]}" -std=c++20 -fsanitize=fuzzer $sanitize -Wall -Wextra -Icpp -Itests/fuzz -c "$src" -o "$out.o"
      clang++ -fsanitize=fuzzer $sanitize "$out.o" "$dir/libwabbit_core.a" -o "$out"
    fi
  done
}

# The mode bytes a target reads from its first input byte (none for vw_text).
modes() {
  case $1 in
    vw_text) echo "" ;;
    cb_event) echo "0 1" ;;
    vw_json) echo "0 1 2 4" ;;
    model) echo "0 1" ;;
    cache) echo "0 1" ;;
    serve_session) echo "60 61 62 0 1 2" ;;
  esac
}

max_len() {  # model files are larger than a line; bandit events and daemon sessions cost the most a byte
  case $1 in
    model) echo 65536 ;;
    cb_event | vw_json | serve_session) echo 1024 ;;
    *) echo 4096 ;;
  esac
}

make_corpus() {  # target corpus_dir seed_dirs...
  local t=$1 corpus=$2
  shift 2
  python3 - "$t" "$corpus" "$(modes "$t")" "$(max_len "$t")" "$@" <<'PY'
import hashlib, os, sys
target, corpus, modes = sys.argv[1], sys.argv[2], [int(m) for m in sys.argv[3].split()]
piece_max = min(2048, int(sys.argv[4]) - 1)  # text pieces, with the mode byte, fit in the target's max_len
n = 0
def emit(data):
    global n
    for m in modes or [None]:
        blob = data if m is None else bytes([m]) + data
        with open(os.path.join(corpus, hashlib.sha1(blob).hexdigest()), "wb") as f:
            f.write(blob)
        n += 1
for src in sys.argv[5:]:
    for root, _, files in os.walk(src):
        for name in sorted(files):
            if name.endswith((".stderr", ".md")):
                continue
            data = open(os.path.join(root, name), "rb").read()
            if target == "cache" and data.startswith(b"WBTCACHE") and data[64:68] == b"BLCK":
                # the first block's payload, as the framed mode (first byte 1) takes it
                size, count = int.from_bytes(data[68:72], "little"), int.from_bytes(data[72:76], "little")
                if count < 256:
                    blob = bytes([1, count]) + data[88 : 88 + size]
                    open(os.path.join(corpus, hashlib.sha1(blob).hexdigest()), "wb").write(blob)
                    n += 1
            if b"\0" in data[:4096] or len(data) <= piece_max:
                if len(data) <= 1 << 20:
                    emit(data)
                continue
            # text: pieces of at most piece_max bytes cut at line ends (at most 16 pieces a file)
            piece, pieces = b"", 0
            for line in data.splitlines(keepends=True):
                if piece and len(piece) + len(line) > piece_max:
                    emit(piece)
                    piece, pieces = b"", pieces + 1
                    if pieces == 16:
                        break
                piece += line[:piece_max]
            if piece and pieces < 16:
                emit(piece)
print(f"fuzz.sh: {n} seed inputs for {target}", file=sys.stderr)
PY
}

run_one() {  # target seconds seed_dirs...
  local t=$1 s=$2
  shift 2
  if compgen -G "tests/fuzz/regressions/$t/*" >/dev/null; then  # inputs that once crashed it
    "$dir/fuzz_$t" tests/fuzz/regressions/"$t"/* >"$dir/regress-$t.log" 2>&1 ||
      { echo "fuzz.sh: $t fails on a regression input; see $dir/regress-$t.log" >&2; return 1; }
  fi
  local corpus keep=$dir/corpus-$t  # what earlier runs found (libFuzzer adds new inputs to the first folder)
  mkdir -p "$keep"
  corpus=$(mktemp -d "${TMPDIR:-/tmp}/wabbit-fuzz-$t.XXXXXX")
  make_corpus "$t" "$corpus" "$@"
  local log=$dir/fuzz-$t.log
  echo "fuzz.sh: running $t for ${s}s (log $log)" >&2
  local rc=0
  ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:malloc_context_size=4:${ASAN_OPTIONS:-}" \
    UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:${UBSAN_OPTIONS:-}" \
    "$dir/fuzz_$t" -max_total_time="$s" -timeout=10 -rss_limit_mb=2048 -detect_leaks=1 -print_final_stats=1 -max_len="$(max_len "$t")" \
    -artifact_prefix="$dir/crash-$t-" ${FUZZ_ARGS:-} "$keep" "$corpus" >"$log" 2>&1 || rc=$?
  rm -rf "$corpus"
  local execs speed
  execs=$(grep -m1 '^stat::number_of_executed_units' "$log" | awk '{print $2}')
  speed=$(grep -m1 '^stat::average_exec_per_sec' "$log" | awk '{print $2}')
  if [[ $rc -ne 0 ]]; then
    echo "fuzz.sh: $t FAILED (exit $rc) after ${execs:-?} executions; see $log and $dir/crash-$t-*" >&2
    grep -m5 -E 'ERROR|runtime error|non-finite|==[0-9]+==' "$log" >&2 || true
    return 1
  fi
  echo "fuzz.sh: $t ok: ${execs:-?} executions, ${speed:-?} exec/s, ${s}s, no crash, leak or timeout"
}

build
[[ $target == build ]] && exit 0
seeds=("$@")
seeds=("${seeds[@]:2}")
if [[ ${#seeds[@]} -eq 0 ]]; then
  seeds=(tests/fuzz/seeds tests/data)
  if [[ -d ../shared/vw-reference ]]; then
    seeds+=(../shared/vw-reference)
  elif [[ -d /work/shared/vw-reference ]]; then
    seeds+=(/work/shared/vw-reference)
  fi
fi
if [[ $target == all ]]; then
  failed=0
  for t in "${targets[@]}"; do run_one "$t" "$secs" "${seeds[@]}" || failed=1; done
  exit $failed
fi
printf '%s\n' "${targets[@]}" | grep -qx "$target" || { echo "fuzz.sh: unknown target $target" >&2; usage; }
run_one "$target" "$secs" "${seeds[@]}"
