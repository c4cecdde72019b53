#!/usr/bin/env python3
"""A TCP relay in front of the S3 endpoint, for the store tests' faults.

    proxy.py LISTEN_PORT TARGET_PORT [--die-on-put TEXT]
             [--fail METHOD TEXT COUNT] [--hold-put TEXT FILE]

Relays 127.0.0.1:LISTEN_PORT to 127.0.0.1:TARGET_PORT. Killing it is "the
store is down"; starting it again on the same port, "the store is back".
A request matches when its first line starts with the method and holds
TEXT (e.g. "versions/v9/model.bin" or "/store/current").

--die-on-put TEXT: the first matching PUT is relayed only in part (its
headers and a few bytes of body), then the relay exits at once, closing
every connection: the store dying in the middle of an upload.

--fail METHOD TEXT COUNT: the first COUNT matching requests (-1: every
one) are answered here with 503 ServiceUnavailable and an S3 error body,
never reaching the store: a store failing with 5xx. Each answer is
printed ("503 <request line>"), so a test can count them.

--hold-put TEXT FILE: every matching PUT waits until FILE exists before
it is relayed: a trainer held between two steps until the test lets it
go on.
"""
import argparse
import os
import socket
import sys
import threading
import time

lock = threading.Lock()
failures_left = [0]

ERROR_BODY = (b'<?xml version="1.0" encoding="UTF-8"?>\n<Error>'
              b"<Code>ServiceUnavailable</Code>"
              b"<Message>injected by tests/s3/proxy.py</Message></Error>")


def matches(line, method, text):
    return line.startswith(method.encode() + b" ") and text.encode() in line


def take_failure():
    with lock:
        if failures_left[0] == 0:
            return False
        if failures_left[0] > 0:
            failures_left[0] -= 1
        return True


def answer_503(src, data, line):
    """Reads the rest of the request (unless the client waits for
    100-continue, in which case it sends no body before an answer), then
    answers 503 and closes."""
    head, sep, body = data.partition(b"\r\n\r\n")
    while not sep and len(head) < 65536:
        more = src.recv(65536)
        if not more:
            return
        data += more
        head, sep, body = data.partition(b"\r\n\r\n")
    length, expect = 0, False
    for h in head.split(b"\r\n")[1:]:
        name, _, value = h.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
        elif name.strip().lower() == b"expect":
            expect = b"100-continue" in value.lower()
    if not expect:
        while len(body) < length:
            more = src.recv(65536)
            if not more:
                break
            body += more
    src.sendall(b"HTTP/1.1 503 Service Unavailable\r\n"
                b"Content-Type: application/xml\r\n"
                b"Content-Length: %d\r\nConnection: close\r\n\r\n"
                % len(ERROR_BODY) + ERROR_BODY)
    print("503 " + line.decode(errors="replace"), flush=True)


def pipe(src, dst, opts):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            line = data.split(b"\r\n", 1)[0] if opts is not None else b""
            if opts is not None and opts.die_on_put is not None and \
                    matches(line, "PUT", opts.die_on_put):
                head, _, body = data.partition(b"\r\n\r\n")
                dst.sendall(head + b"\r\n\r\n" + body[:100])
                os._exit(0)
            if opts is not None and opts.fail is not None and \
                    matches(line, opts.fail[0], opts.fail[1]) and \
                    take_failure():
                answer_503(src, data, line)
                break
            if opts is not None and opts.hold_put is not None and \
                    matches(line, "PUT", opts.hold_put[0]):
                while not os.path.exists(opts.hold_put[1]):
                    time.sleep(0.05)
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def main():
    p = argparse.ArgumentParser()
    p.add_argument("listen_port", type=int)
    p.add_argument("target_port", type=int)
    p.add_argument("--die-on-put", metavar="TEXT")
    p.add_argument("--fail", nargs=3, metavar=("METHOD", "TEXT", "COUNT"))
    p.add_argument("--hold-put", nargs=2, metavar=("TEXT", "FILE"))
    opts = p.parse_args()
    if opts.fail is not None:
        failures_left[0] = int(opts.fail[2])
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", opts.listen_port))
    srv.listen(64)
    print("listening", flush=True)
    while True:
        client, _ = srv.accept()
        try:
            upstream = socket.create_connection(("127.0.0.1",
                                                 opts.target_port))
        except OSError:
            client.close()
            continue
        threading.Thread(target=pipe, args=(client, upstream, opts),
                         daemon=True).start()
        threading.Thread(target=pipe, args=(upstream, client, None),
                         daemon=True).start()


if __name__ == "__main__":
    sys.exit(main())
