"""Load test of a SockJS server: one locust user class per transport family.

    locust -f loadtests/locustfile.py --host http://127.0.0.1:8081 \
        [WebSocketUser XhrStreamingUser EventSourceUser XhrPollingUser] \
        [--echo-path /echo --broadcast-path /broadcast --message-interval 1 --broadcast-interval 5]

Without class names every transport gets the same share of users. The
measurements and options are described in ``sockjs_users.py``;
``scripts/loadtest.sh`` runs this headless against the project's test server.
"""

from sockjs_users import (  # noqa: F401  (locust collects the User classes from this module)
    EventSourceUser,
    WebSocketUser,
    XhrPollingUser,
    XhrStreamingUser,
)
