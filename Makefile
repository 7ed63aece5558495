# Rill's build entry points. `make demo` and `make test` work on a fresh Debian machine as root:
# they install whatever system packages are missing first.

SHELL := /bin/bash
.DEFAULT_GOAL := test

# Debian packages the build needs. (rdkafka's bundled librdkafka needs only gcc/make/perl;
# the bundled RocksDB of the `rocksdb` crate needs libclang-dev for bindgen.)
DEB_PACKAGES := build-essential pkg-config libclang-dev

# Build settings live here, not in anyone's shell.
export CARGO_TERM_COLOR ?= never
export CARGO_INCREMENTAL ?= 0
export RUST_BACKTRACE ?= 1

.PHONY: deps demo test fmt clippy unit doc bench

deps:
	@scripts/install-deps.sh $(DEB_PACKAGES)

## Runs the word-count example end to end and prints the results.
demo: deps
	cargo run --quiet --example wordcount

## Everything CI runs.
test: deps fmt clippy unit doc

fmt:
	cargo fmt --all -- --check

clippy:
	cargo clippy --workspace --all-targets -- -D warnings

unit:
	cargo test --workspace

doc: deps
	RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps

bench: deps
	cargo bench --bench driver
