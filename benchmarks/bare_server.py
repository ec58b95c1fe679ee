"""A bare HTTP/1.1 server that measures what the machine can do, not what a registry does.

    python benchmarks/bare_server.py --port P --file BLOB --method sendfile|readsend \
        [--buffer-mib 1] [--upload-dir DIR]

Every request is answered the same way whatever its path, one thread per connection, blocking
sockets, no parsing beyond the request line, ``Content-Length`` and ``Range``:

- GET/HEAD send ``--file`` (or the ``Range: bytes=a-b`` of it, 206) with ``os.sendfile``, or
  with ``readinto`` a buffer of ``--buffer-mib`` MiB (1 by default) and ``sendall``, as
  ``--method`` says;
- POST/PATCH/PUT with a body receive it with ``recv_into`` that buffer, hash it with sha256
  and write it to a new file under ``--upload-dir``, fsync it at the end (as a registry
  commits a blob) and delete it; 201 with the digest in ``Docker-Content-Digest``.

The benchmark runs one per method (and read + send buffer size) in its own process: the best
GET figure is the pull limit, the PUT figure the push limit over the network.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import socket
import threading
import uuid

MIB = 1 << 20
BUFFER = 1 * MIB
RANGE = re.compile(rb"bytes=(\d+)-(\d*)")


def handle(conn: socket.socket, args: argparse.Namespace) -> None:
    buf = bytearray(BUFFER)
    view = memoryview(buf)
    pending = b""
    with conn:
        while True:
            while b"\r\n\r\n" not in pending:
                more = conn.recv(65536)
                if not more:
                    return
                pending += more
            head, _, pending = pending.partition(b"\r\n\r\n")
            lines = head.split(b"\r\n")
            method = lines[0].split(b" ", 1)[0]
            hdrs = {}
            for line in lines[1:]:
                key, _, value = line.partition(b":")
                hdrs[key.strip().lower()] = value.strip()
            length = int(hdrs.get(b"content-length", b"0"))
            if length:
                pending = receive(conn, args, pending, length, view)
                continue
            if method in (b"GET", b"HEAD"):
                send_file(conn, args, hdrs.get(b"range"), method == b"HEAD", view)
            else:
                conn.sendall(b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\nLocation: /up\r\n\r\n")
            if hdrs.get(b"connection", b"").lower() == b"close":
                return


def send_file(
    conn: socket.socket,
    args: argparse.Namespace,
    range_header: bytes | None,
    head_only: bool,
    view: memoryview,
) -> None:
    with open(args.file, "rb", buffering=0) as f:
        size = os.fstat(f.fileno()).st_size
        start, end, status = 0, size - 1, b"200 OK"
        m = RANGE.fullmatch(range_header or b"")
        if m:
            start = int(m.group(1))
            end = min(int(m.group(2)), size - 1) if m.group(2) else size - 1
            status = b"206 Partial Content"
        count = end - start + 1
        conn.sendall(
            b"HTTP/1.1 " + status + b"\r\nContent-Type: application/octet-stream\r\n"
            b"Content-Length: " + str(count).encode() + b"\r\n\r\n"
        )
        if head_only:
            return
        if args.method == "sendfile":
            offset = start
            while count:
                sent = os.sendfile(conn.fileno(), f.fileno(), offset, count)
                if not sent:
                    raise OSError("file shorter than it was")
                offset += sent
                count -= sent
        else:
            f.seek(start)
            while count:
                n = f.readinto(view[: min(count, BUFFER)])
                if not n:
                    raise OSError("file shorter than it was")
                conn.sendall(view[:n])
                count -= n


def receive(
    conn: socket.socket, args: argparse.Namespace, pending: bytes, length: int, view: memoryview
) -> bytes:
    hasher = hashlib.sha256()
    path = os.path.join(args.upload_dir, uuid.uuid4().hex)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        first, pending = pending[:length], pending[length:]
        hasher.update(first)
        os.write(fd, first)
        left = length - len(first)
        while left:
            n = conn.recv_into(view[: min(left, BUFFER)])
            if not n:
                raise OSError("client went away")
            chunk = view[:n]
            hasher.update(chunk)
            while chunk:
                chunk = chunk[os.write(fd, chunk) :]
            left -= n
        os.fsync(fd)
    finally:
        os.close(fd)
        os.unlink(path)
    conn.sendall(
        b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\nLocation: /done\r\n"
        b"Docker-Content-Digest: sha256:" + hasher.hexdigest().encode() + b"\r\n\r\n"
    )
    return pending


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--file", required=True)
    p.add_argument("--method", choices=["sendfile", "readsend"], required=True)
    p.add_argument("--buffer-mib", type=int, default=1)
    p.add_argument("--upload-dir", default=".")
    args = p.parse_args()
    global BUFFER
    BUFFER = args.buffer_mib * MIB
    srv = socket.create_server(("127.0.0.1", args.port), backlog=1024)
    while True:
        conn, _ = srv.accept()
        threading.Thread(target=handle, args=(conn, args), daemon=True).start()


if __name__ == "__main__":
    main()
