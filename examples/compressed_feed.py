"""A JSON price feed over compressed websockets: the traffic permessage-deflate is for.

    python examples/compressed_feed.py --port 8080   # SockJS clients on http://127.0.0.1:8080/feed

Every session gets a JSON quote every 100 ms. Repetitive JSON like this
shrinks four to five times on the wire with compression
(docs/compression.md). Context takeover is off here, so an idle session costs
what an uncompressed one does, at a lower ratio; drop the two
``*_no_context_takeover`` settings for the best ratio when sessions are few
and busy. Clients that do not offer compression (and the HTTP transports)
get the same feed uncompressed; ``service.stats`` counts the websocket
connections that agreed (``websocket_compressed``).
"""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()  # first: whatever a handler calls must cooperate with gevent

import argparse
import random

import gevent

from sockjs_gevent import Compression, Connection, SockJS
from sockjs_gevent.server import print_ready, serve

SYMBOLS = ("AAPL", "MSFT", "GOOG", "AMZN", "NVDA", "META")
COMPRESSION = Compression(server_no_context_takeover=True, client_no_context_takeover=True)


def feed(conn: Connection) -> None:
    """Quotes every 100 ms until the client goes; anything the client sends is ignored."""
    rng = random.Random()
    seq = 0
    while not conn.closed:
        symbol = rng.choice(SYMBOLS)
        price = round(rng.uniform(100, 900), 2)
        quote = {
            "seq": seq,
            "symbol": symbol,
            "bid": price,
            "ask": round(price + 0.05, 2),
            "size": rng.randrange(1, 5000),
            "exchange": "XNAS",
            "currency": "USD",
        }
        conn.send_json(quote)
        seq += 1
        gevent.sleep(0.1)


def build_service() -> SockJS:
    return SockJS(feed, prefix="/feed", websocket_compression=COMPRESSION)


def main() -> None:
    parser = argparse.ArgumentParser(description="sockjs-gevent compressed JSON feed")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    args = parser.parse_args()
    serve(build_service(), args.host, args.port, ready=print_ready)


if __name__ == "__main__":
    main()
