#!/usr/bin/env python3
"""A TCP relay in front of the S3 endpoint, for the store tests' faults.

    proxy.py LISTEN_PORT TARGET_PORT [--die-on-put TEXT]

Relays 127.0.0.1:LISTEN_PORT to 127.0.0.1:TARGET_PORT. Killing it is "the
store is down"; starting it again on the same port, "the store is back".
With --die-on-put, the first request whose first line is a PUT containing
TEXT is relayed only in part (its headers and a few bytes of body), then
the relay exits at once, closing every connection: the store dying in the
middle of an upload.
"""
import os
import socket
import sys
import threading


def pipe(src, dst, watch):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            if watch is not None:
                line = data.split(b"\r\n", 1)[0]
                if line.startswith(b"PUT ") and watch in line:
                    head, _, body = data.partition(b"\r\n\r\n")
                    dst.sendall(head + b"\r\n\r\n" + body[:100])
                    os._exit(0)
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
    listen_port, target_port = int(sys.argv[1]), int(sys.argv[2])
    watch = None
    if len(sys.argv) == 5 and sys.argv[3] == "--die-on-put":
        watch = sys.argv[4].encode()
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", listen_port))
    srv.listen(64)
    print("listening", flush=True)
    while True:
        client, _ = srv.accept()
        try:
            upstream = socket.create_connection(("127.0.0.1", target_port))
        except OSError:
            client.close()
            continue
        threading.Thread(target=pipe, args=(client, upstream, watch),
                         daemon=True).start()
        threading.Thread(target=pipe, args=(upstream, client, None),
                         daemon=True).start()


main()
