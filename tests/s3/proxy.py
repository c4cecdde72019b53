#!/usr/bin/env python3
"""A TCP relay in front of the S3 endpoint, for the store tests' faults.

    proxy.py LISTEN_PORT TARGET_PORT [--die-on-put TEXT]
             [--delay-put TEXT SECONDS]

Relays 127.0.0.1:LISTEN_PORT to 127.0.0.1:TARGET_PORT. Killing it is "the
store is down"; starting it again on the same port, "the store is back".
A request matches when its first line starts with the method and holds
TEXT (e.g. "versions/v9/model.bin" or "/store/current").

--die-on-put TEXT: the first matching PUT is relayed only in part (its
headers and a few bytes of body), then the relay exits at once, closing
every connection: the store dying in the middle of an upload.

--delay-put TEXT SECONDS: every matching PUT waits SECONDS before it is
relayed: a trainer slowed between its steps.
"""
import argparse
import os
import socket
import sys
import threading
import time

def matches(line, method, text):
    return line.startswith(method.encode() + b" ") and text.encode() in line


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
            if opts is not None and opts.delay_put is not None and \
                    matches(line, "PUT", opts.delay_put[0]):
                time.sleep(float(opts.delay_put[1]))
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
    p.add_argument("--delay-put", nargs=2, metavar=("TEXT", "SECONDS"))
    opts = p.parse_args()
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
