"""The errors of reading a request body (``wsgi.input``), apart from ``input.py``, which raises them.

They subclass ``OSError`` (an app reading ``wsgi.input`` sees the errors a
socket gives). The optional compiled build compiles ``input.py``, and a
compiled class cannot subclass a built-in exception other than ``Exception``:
these stay interpreted here.
"""

from __future__ import annotations


class BodyError(OSError):
    """Reading the request body failed; ``status`` is the answer the server gives, if it still can."""

    status = 400


class ClientDisconnected(BodyError):
    """The client closed or reset the connection before the body was complete."""

    status = 0  # nobody left to answer


class BodyTimeout(BodyError):
    """The body did not arrive in time (HttpConfig.body_timeout / body_min_rate)."""

    status = 408


class RequestBodyTooLarge(BodyError):
    """The body is larger than HttpConfig.max_body_size."""

    status = 413


class MalformedBody(BodyError):
    """Bad chunked framing."""

    status = 400
