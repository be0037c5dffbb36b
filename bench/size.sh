#!/usr/bin/env bash
# The static x86_64 binary's size, per build and opt-level, next to Debian's tini-static
# (apt-get install tini): the plain `cargo build --release`, the release build
# (release/build.sh: std rebuilt, panic messages kept), and the release build with
# panic=immediate-abort (no panic messages). Each in a folder of its own under target/size,
# kept for the next run. Usage: bench/size.sh (about 8 minutes from cold on 2 cores)
set -euo pipefail
cd "$(dirname "$0")/.."
target=x86_64-unknown-linux-musl
dir=target/size
mkdir -p "$dir"
row() { printf '%-28s %-10s %10s\n' "$@"; }
# release ARGS...: release/build.sh for this target, its log shown only if it fails.
release() {
  release/build.sh "$@" $target >/dev/null 2>"$dir/build.log" || { cat "$dir/build.log" >&2; exit 1; }
}
row build opt-level bytes
for level in z s 2 3; do
  CARGO_PROFILE_RELEASE_OPT_LEVEL=$level cargo build -q --release --target $target --target-dir "$dir/plain-$level"
  row "plain" "$level" "$(stat -c %s "$dir/plain-$level/$target/release/tinysup")"
done
for level in z s 2 3; do
  release --opt-level $level --build-dir "$dir/release-$level" --out "$dir/dist-$level"
  row "release" "$level" "$(stat -c %s "$dir/dist-$level/tinysup-amd64")"
done
for level in z s; do
  release --immediate-abort --opt-level $level --build-dir "$dir/abort-$level" --out "$dir/dist-abort-$level"
  row "release, immediate-abort" "$level" "$(stat -c %s "$dir/dist-abort-$level/tinysup-amd64")"
done
if [ -e /usr/bin/tini-static ]; then
  row "Debian tini-static 0.19" "" "$(stat -c %s /usr/bin/tini-static)"
fi
