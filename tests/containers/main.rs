//! End-to-end tests: tinysup in real containers. A Docker engine of the tests' own
//! (`docker.rs`) and Podman's `kube play` for Kubernetes pod YAML (`kube.rs`), on images built
//! FROM scratch holding the host-built static tinysup and busybox (docker/Dockerfile.test).
//! The release image (docker/Dockerfile.release) and `COPY --from` it (`release.rs`).
//!
//! Part of `cargo test`. They need root, Docker and Podman (`.ci/run` installs them); where
//! those are missing they say SKIPPED loudly, and with CI=true they fail.

mod docker;
mod engines;
mod kube;
mod release;
