"""A trivial gevent WebSocket echo server, no SockJS: the load generator's ceiling.

    python -m bench.servers.raw_echo_server [--port 0]

Prints ``raw-echo listening on http://127.0.0.1:PORT`` when ready.
"""

from __future__ import annotations

import argparse

from gevent.server import StreamServer

from testkit.wsframe import CLOSE, PING, PONG, FrameReader, accept_token, encode

MAX_HEAD = 16384
MAX_FRAMES = 100_000_000  # per connection: a bound, never reached in a run
IDLE_TIMEOUT = 120.0


def handshake(sock) -> bytes:
    """Read the upgrade request, answer 101; returns bytes read past the head."""
    data = b""
    while b"\r\n\r\n" not in data and len(data) < MAX_HEAD:
        chunk = sock.recv(4096)
        if not chunk:
            raise EOFError
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    key = next(line.split(b":", 1)[1] for line in head.split(b"\r\n") if line.lower().startswith(b"sec-websocket-key:"))
    sock.sendall(
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Accept: " + accept_token(key).encode() + b"\r\n\r\n"
    )
    return rest


def serve_client(sock, address) -> None:
    """Echo every data frame until close, EOF or an idle timeout."""
    sock.settimeout(IDLE_TIMEOUT)
    try:
        reader = FrameReader(sock, handshake(sock))
        for _ in range(MAX_FRAMES):
            opcode, payload = reader.read()
            if opcode == CLOSE:
                sock.sendall(encode(payload[:2], CLOSE, masked=False))
                return
            sock.sendall(encode(payload, PONG if opcode == PING else opcode, masked=False))
    except (EOFError, OSError, StopIteration):
        pass
    finally:
        sock.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    server = StreamServer(("127.0.0.1", parser.parse_args().port), serve_client, backlog=1024)
    server.start()
    print(f"raw-echo listening on http://127.0.0.1:{server.server_port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
