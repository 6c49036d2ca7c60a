"""Many streams over one SockJS connection, in the websocket-multiplex wire format."""
