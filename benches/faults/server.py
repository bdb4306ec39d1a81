#!/usr/bin/env python3
"""A loopback HTTP/1.1 server with one fault, for benches/faults.sh: it counts the requests it received
and prints the count when stopped (SIGTERM). Modes: close_after_head, close_after_request, reset_mid_body,
head_then_close, chunked_cut, stall, garbage_status, endless_1xx, connection_close, http10, idle_close,
every_third_close, ok."""
import signal, socket, struct, sys, threading, time

mode, port = sys.argv[1], int(sys.argv[2])
seen = 0
lock = threading.Lock()
OK = b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{"ok":true}'


def count():
    global seen
    with lock:
        seen += 1
        return seen


def read_head(c, buf):
    while b"\r\n\r\n" not in buf:
        d = c.recv(65536)
        if not d:
            return None, buf
        buf += d
    head, rest = buf.split(b"\r\n\r\n", 1)
    n = 0
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            n = int(v.strip())
    return n, rest


def serve(c):
    buf = b""
    c.settimeout(20)
    try:
        for _ in range(100000):
            n, buf = read_head(c, buf)
            if n is None:
                return
            if mode == "close_after_head":
                count()
                return
            if mode == "reset_mid_body":
                count()
                # Part of the body is unread: closing now resets the connection.
                c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                return
            while len(buf) < n:
                d = c.recv(65536)
                if not d:
                    return
                buf += d
            buf = buf[n:]
            k = count()
            if mode == "close_after_request":
                return
            if mode == "head_then_close":
                c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789")
                return
            if mode == "chunked_cut":
                c.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n01234")
                return
            if mode == "stall":
                while c.recv(1024):
                    pass
                return
            if mode == "garbage_status":
                c.sendall(b"HTTP/1.1 2x0 OK\r\nContent-Length: 0\r\n\r\n")
                return
            if mode == "endless_1xx":
                for _ in range(1000):
                    c.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
                    time.sleep(0.001)
                return
            if mode == "connection_close":
                c.sendall(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok")
                return
            if mode == "http10":
                c.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok")
                return
            if mode == "every_third_close" and k % 3 == 0:
                return
            c.sendall(OK)
            if mode == "idle_close":
                c.settimeout(0.02)
                try:
                    d = c.recv(65536)
                except socket.timeout:
                    return
                if not d:
                    return
                buf += d
                c.settimeout(20)
    except OSError:
        return
    finally:
        c.close()


def stop(*_):
    print(seen, flush=True)
    sys.exit(0)


signal.signal(signal.SIGTERM, stop)
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", port))
s.listen(1024)
print("ready", flush=True)
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
