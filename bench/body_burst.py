#!/usr/bin/env python3
"""Measures forest-serve's memory under a burst of held uploads (api/README.md,
Memory). Not part of make test: it needs a release build and takes seconds.

    usage: body_burst.py PORT PID [CONNECTIONS]

Opens CONNECTIONS (default 400) connections, sends each the headers of a
1 MiB POST /predict and 900 KB of its body, holds them two seconds, closes
them, and prints the server's RSS (VmRSS of PID) before, while holding and
after, with the forest_serve_body_memory_bytes gauge. Raise the open-file
limit first (ulimit -n 4096).
"""
import socket
import sys
import time
import urllib.request


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) // 1024
    return -1


def gauge(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics") as r:
        for line in r.read().decode().splitlines():
            if line.startswith("forest_serve_body_memory_bytes "):
                return int(line.split()[1])
    return None


def main():
    port, pid = int(sys.argv[1]), int(sys.argv[2])
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 400
    body = b" " * (900 * 1024)
    print(f"before: {rss_mb(pid)} MB")
    socks, refused = [], 0
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(b"POST /predict HTTP/1.1\r\nHost: x\r\n"
                  b"Content-Length: 1048576\r\n\r\n")
        socks.append(s)
    for s in socks:
        try:
            s.settimeout(5)
            s.sendall(body)
        except OSError:
            refused += 1  # answered 503 and closed by the server (some of
            # the refused still fit in the socket buffers: see the gauge)
    time.sleep(2)
    held = gauge(port)
    print(f"holding: {rss_mb(pid)} MB, gauge {held} "
          f"({held // 1048577} whole bodies), {refused} uploads cut off")
    for s in socks:
        s.close()
    time.sleep(2)
    print(f"after: {rss_mb(pid)} MB, gauge {gauge(port)}")


if __name__ == "__main__":
    main()
