"""Many streams over one SockJS connection, in the websocket-multiplex wire format.

    from sockjs_gevent import SockJS
    from sockjs_gevent.multiplex import Multiplexer

    def chat(stream):                  # a handler of one stream, written like a connection handler
        for message in stream:
            stream.send(message)

    app = SockJS(Multiplexer({"chat": chat, "ticker": ticker}), "/mux")

In the browser, websocket-multiplex's ``multiplex_client.js``::

    var mux = new WebSocketMultiplex(new SockJS('/mux'));
    var chat = mux.channel('chat');    // the "chat" stream: send, onmessage, onclose, close

The wire format calls these channels; here they are *streams*, because
``sockjs_gevent.channels`` are pub/sub groups (a stream can join one).
"""

from .framing import FramingError, wire_name
from .multiplexer import DEFAULT_MAX_STREAMS, Multiplexer
from .stream import Stream

__all__ = ["DEFAULT_MAX_STREAMS", "FramingError", "Multiplexer", "Stream", "wire_name"]
