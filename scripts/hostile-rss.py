#!/usr/bin/env python3
"""Peak memory of a `rill broker` process under hostile input (issue 18).

Starts the given `rill` binary as a broker on a loopback port with a fresh data directory,
drives one hostile case over raw TCP, and prints the broker's peak resident memory
(VmHWM) after it. Python's standard library only: the frames are written by hand.

    scripts/hostile-rss.py target/debug/rill CASE

CASE is one of:
  baseline      nothing hostile (the broker's own footprint, with the topics created)
  bomb-compact  a 326 KB gzip batch that expands to 256 MiB and claims 2^31-1 records,
                sent to a compacted topic (ten times)
  bomb-plain    the same batch to a plain topic (ten times)
  bomb-keyless  a ~260 KB gzip batch of 256 MiB of 7-byte keyless records (offset delta
                0 each), to a compacted topic (three times): the key check's worst case
  bomb-wellformed  a gzip batch of 70,000 well-formed keyed records of 1 KB of zeros
                (70 MB, past the 64 MiB bound), to a compacted topic (three times)
  fetch-dup     10 MB in one partition, then one ~1.6 KB Fetch listing it 100 times
                with max_bytes and partition_max_bytes at 2^31-1
  prefixes      200 connections each sending a size prefix of 100 MiB and nothing else
"""

import os
import socket
import struct
import subprocess
import sys
import tempfile
import time
import zlib


def crc32c(data, table=[]):
    if not table:
        for i in range(256):
            c = i
            for _ in range(8):
                c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
            table.append(c)
    c = 0xFFFFFFFF
    for b in data:
        c = table[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def varint(v):
    z = (v << 1) ^ (v >> 63)
    out = bytearray()
    while z >= 0x80:
        out.append((z & 0x7F) | 0x80)
        z >>= 7
    out.append(z)
    return bytes(out)


def batch(attributes, last_offset_delta, count, section):
    tail = struct.pack(">hiqqqhii", attributes, last_offset_delta, 1, 1, -1, -1, -1, count) + section
    crc = crc32c(tail)
    return struct.pack(">qiibI", 0, 49 + len(section), -1, 2, crc) + tail


def string(s):
    b = s.encode()
    return struct.pack(">h", len(b)) + b


def request(api_key, version, body, correlation=1):
    header = struct.pack(">hhi", api_key, version, correlation) + string("hostile-rss")
    frame = header + body
    return struct.pack(">i", len(frame)) + frame


def read_frame(sock):
    size = struct.unpack(">i", recv_exact(sock, 4))[0]
    return recv_exact(sock, size)


def recv_exact(sock, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(min(n - len(buf), 1 << 20))
        if not chunk:
            raise ConnectionError("closed")
        buf += chunk
    return bytes(buf)


def produce(sock, topic, records, partition=0):
    body = struct.pack(">hhi", -1, 1, 30000)  # null transactional id, acks=1, timeout
    body += struct.pack(">i", 1) + string(topic)
    body += struct.pack(">i", 1) + struct.pack(">i", partition)
    body += struct.pack(">i", len(records)) + records
    sock.sendall(request(0, 3, body))
    resp = read_frame(sock)
    # correlation, topics[1]: name, partitions[1]: index, error_code
    name_len = struct.unpack(">h", resp[8:10])[0]
    at = 10 + name_len + 4 + 4
    return struct.unpack(">h", resp[at:at + 2])[0]


def create_topic(sock, name, partitions, configs=()):
    body = struct.pack(">i", 1) + string(name) + struct.pack(">ihi", partitions, 1, 0)
    body += struct.pack(">i", len(configs))
    for k, v in configs:
        body += string(k) + string(v)
    body += struct.pack(">ib", 30000, 0)  # timeout, validate_only
    sock.sendall(request(19, 2, body))
    read_frame(sock)


def vm(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def main():
    rill, case = sys.argv[1], sys.argv[2]
    data = tempfile.mkdtemp(prefix="hostile-rss-")
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    broker = subprocess.Popen(
        [rill, "broker", "--data-dir", data, "--listen", f"127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            try:
                sock = socket.create_connection(("127.0.0.1", port))
                break
            except OSError:
                time.sleep(0.1)
        sock.settimeout(120)
        create_topic(sock, "plain", 1)
        create_topic(sock, "compact", 1, [("cleanup.policy", "compact")])
        started = time.time()
        outcome = ""
        if case == "bomb-keyless":
            record = varint(6) + b"\x00" + varint(0) + varint(0) + varint(-1) + varint(-1) + varint(0)
            count = (256 << 20) // len(record)
            gz = zlib.compressobj(9, zlib.DEFLATED, 31)
            compressed = gz.compress(record * count) + gz.flush()
            bomb = batch(1, count - 1, count, compressed)
            codes = [produce(sock, "compact", bomb) for _ in range(3)]
            outcome = f"request {len(bomb) + 60} bytes, error codes {sorted(set(codes))}"
        elif case == "bomb-wellformed":
            value = bytes(1000)
            parts = []
            for i in range(70_000):
                body = b"\x00" + varint(0) + varint(i) + varint(1) + b"k" + varint(len(value)) + value + varint(0)
                parts.append(varint(len(body)) + body)
            gz = zlib.compressobj(9, zlib.DEFLATED, 31)
            compressed = gz.compress(b"".join(parts)) + gz.flush()
            bomb = batch(1, 69_999, 70_000, compressed)
            codes = [produce(sock, "compact", bomb) for _ in range(3)]
            outcome = f"request {len(bomb) + 60} bytes, error codes {sorted(set(codes))}"
        elif case.startswith("bomb"):
            section = zlib.compressobj(9, zlib.DEFLATED, 31)
            compressed = section.compress(bytes(256 << 20)) + section.flush()
            bomb = batch(1, 2**31 - 2, 2**31 - 1, compressed)
            topic = "compact" if case == "bomb-compact" else "plain"
            codes = [produce(sock, topic, bomb) for _ in range(10)]
            outcome = f"request {len(bomb) + 60} bytes, error codes {sorted(set(codes))}"
        elif case == "fetch-dup":
            value = b"v" * 1_000_000
            record = b"\x00" + varint(0) + varint(0) + varint(1) + b"k" + varint(len(value)) + value + varint(0)
            one = batch(0, 0, 1, varint(len(record)) + record)
            for _ in range(10):
                assert produce(sock, "plain", one) == 0
            parts = b"".join(struct.pack(">iqi", 0, 0, 2**31 - 1) for _ in range(100))
            body = struct.pack(">iiiib", -1, 0, 1, 2**31 - 1, 0)
            body += struct.pack(">i", 1) + string("plain") + struct.pack(">i", 100) + parts
            frame = request(1, 4, body)
            sock.sendall(frame)
            resp = read_frame(sock)
            outcome = f"request {len(frame)} bytes, response {len(resp)} bytes"
        elif case == "prefixes":
            held = []
            for _ in range(200):
                s = socket.create_connection(("127.0.0.1", port))
                s.sendall(struct.pack(">i", 100 << 20))
                held.append(s)
            time.sleep(2)
            outcome = "200 connections held"
        elif case != "baseline":
            raise SystemExit(f"unknown case {case}")
        print(
            f"{case}: {outcome}; broker VmHWM {vm(broker.pid, 'VmHWM') // 1024} MiB, "
            f"VmRSS {vm(broker.pid, 'VmRSS') // 1024} MiB, {time.time() - started:.1f} s"
        )
    finally:
        broker.terminate()
        broker.wait(30)
        subprocess.run(["rm", "-rf", data])


if __name__ == "__main__":
    main()
