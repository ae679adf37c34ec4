#!/usr/bin/env bash
# Build the libFuzzer targets and fuzz each for a bounded time (CI: fuzz/run.sh 60).
#   fuzz/run.sh [seconds per target, default 60] [build dir, default build-fuzz]
# Needs clang and its libFuzzer runtime (Debian: apt-get install clang libclang-rt-14-dev).
# New inputs go to BUILD/corpus-*, never into the committed seeds; a crash leaves
# BUILD/crash-* (add it to tests/test_bad_inputs.cpp as a regression) and exits non-zero.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
build=${2:-build-fuzz}
# clang and its libFuzzer runtime come from Debian's packages; install them like scripts/setup does.
missing=()
for p in clang libclang-rt-14-dev; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "fuzz/run.sh: installing ${missing[*]}" >&2
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if ! command -v clang++ >/dev/null; then echo "fuzz/run.sh: clang++ not found (apt-get install clang libclang-rt-14-dev)" >&2; exit 2; fi
CXX=clang++ cmake -S fuzz -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j"$(nproc 2>/dev/null || echo 2)"
for target in workspace patch; do
  mkdir -p "$build/corpus-$target"
  "$build/fuzz_$target" -dict=fuzz/pyhf.dict -max_len=8192 -timeout=10 -rss_limit_mb=2048 \
    -max_total_time="$seconds" -print_final_stats=1 -artifact_prefix="$build/crash-$target-" \
    "$build/corpus-$target" "fuzz/corpus/$target"
done
