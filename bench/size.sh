#!/usr/bin/env bash
# Builds the static release binary once per opt-level and prints its size next to Debian's
# tini-static (apt-get install tini). Usage: bench/size.sh
set -euo pipefail
cd "$(dirname "$0")/.."
target=x86_64-unknown-linux-musl
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
printf '%-12s %10s\n' "opt-level" "bytes"
for level in z s 2 3; do
  CARGO_PROFILE_RELEASE_OPT_LEVEL=$level cargo build -q --release --target $target --target-dir "$dir/$level"
  printf '%-12s %10s\n' "$level" "$(stat -c %s "$dir/$level/$target/release/tinysup")"
done
if [ -e /usr/bin/tini-static ]; then
  printf '%-12s %10s\n' "tini-static" "$(stat -c %s /usr/bin/tini-static)"
fi
