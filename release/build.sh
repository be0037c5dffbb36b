#!/usr/bin/env bash
# Builds tinysup's release artefacts: the smallest static binaries that keep a one-line panic
# message, for x86_64 and aarch64 (musl), and their SHA256SUMS. With --image, also the
# FROM scratch images holding only /tinysup (docker/Dockerfile.release), one per architecture.
#
#   release/build.sh                  target/dist/tinysup-amd64, tinysup-arm64, SHA256SUMS
#   release/build.sh --image          the same, then `docker build` tinysup:VERSION (amd64) and
#                                     tinysup:VERSION-arm64 with the docker in DOCKER_HOST
#   release/build.sh --immediate-abort --out DIR
#                                     the variant without panic messages (for comparison only;
#                                     see the README's "Building the static binary")
#   release/build.sh x86_64-unknown-linux-musl   one target only
#   --opt-level L, --build-dir DIR    another opt-level, another cargo target folder
#                                     (bench/size.sh compares them)
#
# How: the standard library is rebuilt with the program (-Z build-std), without backtrace
# support and with `optimize_for_size`; no unwind tables (panics abort: nothing unwinds);
# opt-level "s", which measures smaller than "z" once std is rebuilt (bench/size.sh).
# -Z flags on the stable toolchain need RUSTC_BOOTSTRAP=1, set here. They are unstable: a
# new Rust may change them (measured with 1.95). Needs: `rustup component add rust-src` and
# `rustup target add x86_64-unknown-linux-musl aarch64-unknown-linux-musl`. The aarch64
# binary is linked by rust-lld, shipped with the toolchain (.cargo/config.toml).
set -euo pipefail
cd "$(dirname "$0")/.."

out=target/dist
immediate_abort=false
image=false
level=
build_dir=
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out=$2; shift ;;
    --immediate-abort) immediate_abort=true ;;
    --image) image=true ;;
    --opt-level) level=$2; shift ;;
    --build-dir) build_dir=$2; shift ;;
    -h | --help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) echo "release/build.sh: unknown option $1" >&2; exit 2 ;;
    *) targets+=("$1") ;;
  esac
  shift
done
[ ${#targets[@]} -gt 0 ] || targets=(x86_64-unknown-linux-musl aarch64-unknown-linux-musl)

version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)
sysroot=$(rustc --print sysroot)
registry=${CARGO_HOME:-$HOME/.cargo}/registry/src
# RUSTFLAGS would replace the target's rustflags from .cargo/config.toml and the ones below.
unset RUSTFLAGS CARGO_ENCODED_RUSTFLAGS
export RUSTC_BOOTSTRAP=1

if $immediate_abort; then
  : "${level:=z}" # "z" is the smaller one without panic messages
  : "${build_dir:=target/release-build-immediate-abort}"
  variant=", panic=immediate-abort"
else
  : "${level:=s}"
  : "${build_dir:=target/release-build}"
  variant=""
fi

# Docker's names for the architectures (TARGETARCH), as tini's releases use them.
arch_of() {
  case "$1" in
    x86_64-*) echo amd64 ;;
    aarch64-*) echo arm64 ;;
    *) echo "release/build.sh: no architecture name for $1" >&2; exit 2 ;;
  esac
}

mkdir -p "$out"
names=()
for target in "${targets[@]}"; do
  arch=$(arch_of "$target")
  flags=(
    -Cforce-unwind-tables=no
    # Paths in panic messages: the same on every machine, and shorter.
    "--remap-path-prefix=$sysroot/lib/rustlib/src/rust/library=library"
    "--remap-path-prefix=$registry=crates"
  )
  case "$target" in
    # GNU ld pads the code to its own pages by default (rust-lld, for aarch64, does not).
    x86_64-*) flags+=(-Clink-arg=-Wl,-z,noseparate-code) ;;
  esac
  if $immediate_abort; then
    flags+=(-Zunstable-options -Cpanic=immediate-abort)
  fi
  list=$(printf '"%s",' "${flags[@]}")
  echo "==> $target (opt-level $level$variant)" >&2
  CARGO_PROFILE_RELEASE_OPT_LEVEL=$level cargo build --locked --release --target "$target" \
    -Z build-std=std,panic_abort -Z build-std-features=optimize_for_size \
    --target-dir "$build_dir" --config "target.$target.rustflags=[${list%,}]"
  binary="$build_dir/$target/release/tinysup"
  if readelf -l "$binary" | grep -q INTERP || readelf -d "$binary" | grep -q NEEDED; then
    echo "release/build.sh: $binary is not statically linked" >&2
    exit 1
  fi
  cp "$binary" "$out/tinysup-$arch"
  names+=("tinysup-$arch")
done

(cd "$out" && sha256sum "${names[@]}" >SHA256SUMS)
echo "==> $out" >&2
(cd "$out" && for name in "${names[@]}"; do printf '%-16s %9s bytes\n' "$name" "$(stat -c %s "$name")"; done)
cat "$out/SHA256SUMS"

if $image; then
  commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
  for name in "${names[@]}"; do
    arch=${name#tinysup-}
    tag="tinysup:$version"
    [ "$arch" = amd64 ] || tag="$tag-$arch"
    context=$(mktemp -d)
    cp docker/Dockerfile.release "$context/Dockerfile"
    cp "$out/$name" "$context/tinysup"
    docker build -q --platform "linux/$arch" -t "$tag" \
      --label "org.opencontainers.image.version=$version" \
      --label "org.opencontainers.image.revision=$commit" "$context"
    rm -rf "$context"
    echo "$tag: /tinysup from $name" >&2
  done
fi
