"""``python -m sockjs_gevent.testserver``, plus the e2e test page on the same origin.

    python -m tests.e2e.same_origin_server --port 0 --sockjs-url /e2e/sockjs.min.js [testserver options]

This runs the test server's own ``main()`` (same services, options, logging
and ready line); the only difference is that its app is wrapped so requests
under ``/e2e/`` get the test page, its harness and sockjs-client, the way an
application serves its own pages next to its SockJS services. A browser page
and its SockJS traffic then share one origin with nothing in between.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from sockjs_gevent import testserver
from tests.e2e.e2e_support import static_file


def with_pages(app: Callable[..., Iterable[bytes]]) -> Callable[..., Iterable[bytes]]:
    def wrapped(environ: dict, start_response: Any) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if not path.startswith("/e2e/"):
            return app(environ, start_response)
        found = static_file(path)
        if found is None:
            start_response("404 Not Found", [("Content-Type", "text/plain"), ("Content-Length", "11")])
            return [b"Not found.\n"]
        body, content_type = found
        start_response(
            "200 OK",
            [
                ("Content-Type", content_type),
                ("Content-Length", str(len(body))),
                ("Cache-Control", "no-cache"),
            ],
        )
        return [body]

    return wrapped


def main() -> None:
    build = testserver.build

    def build_with_pages(*args: Any, **kwargs: Any) -> Any:
        return with_pages(build(*args, **kwargs))

    testserver.build = build_with_pages  # main() looks build up at call time
    testserver.main()


if __name__ == "__main__":
    main()
