#!/usr/bin/env bash
# Runs librdkafka's own integration tests against a `rill broker`, as a single-node Kafka.
#
#   scripts/librdkafka-suite.sh [TEST-SUBSTRING...]    e.g. 0011 0044 0069 0082 0112
#
# The librdkafka sources are the ones rdkafka-sys bundles (the version our applications link),
# copied from cargo's registry and built once under target/librdkafka-suite. The broker runs with
# `num.partitions=4`, as librdkafka's test setup assumes, on a loopback port, with a fresh data
# directory. With no test named, every test that needs a broker runs (`-L`: no local-only tests,
# `-E`: no socket-emulation tests), in quick mode; tests that need several brokers, SSL or SASL
# fail on any single-node PLAINTEXT cluster. Not part of `make test`: it takes long.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$root/target/librdkafka-suite"
src=$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/rdkafka-sys-*/librdkafka 2>/dev/null | sort | tail -1)
[ -n "$src" ] || { echo "rdkafka-sys sources not found: run cargo build first" >&2; exit 1; }
mkdir -p "$work"
if [ ! -x "$work/librdkafka/tests/test-runner" ]; then
  rm -rf "$work/librdkafka"
  cp -r "$src" "$work/librdkafka"
  (cd "$work/librdkafka" && ./configure --disable-ssl --disable-gssapi --disable-curl --disable-zstd \
     && make -j"$(nproc)" libs && make -C tests -j"$(nproc)" build) > "$work/build.log" 2>&1 \
     || { echo "building librdkafka's tests failed: see $work/build.log" >&2; exit 1; }
fi
(cd "$root" && cargo build --bin rill) >&2
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
data=$(mktemp -d)
"$root/target/debug/rill" broker --data-dir "$data" --listen "127.0.0.1:$port" \
  --config num.partitions=4 > "$work/broker.log" 2>&1 &
broker=$!
trap 'kill $broker 2>/dev/null; wait $broker 2>/dev/null; rm -rf "$data"' EXIT
sleep 1
cd "$work/librdkafka/tests"
echo "bootstrap.servers=127.0.0.1:$port" > test.conf
export LD_LIBRARY_PATH="$work/librdkafka/src:$work/librdkafka/src-cpp"
export TEST_KAFKA_VERSION=4.0.0
status=0
if [ $# -eq 0 ]; then
  ./test-runner -L -E -Q -p1 | tee "$work/suite.log" || status=$?
else
  for t in "$@"; do
    TESTS="$t" ./test-runner | tee "$work/$t.log" || status=$?
  done
fi
exit $status
