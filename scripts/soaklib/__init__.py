"""The parts of scripts/soak.py, one module per job.

    serverproc  the test server subprocess (testkit's starter), /proc readings, /stats
    rawclient   raw sockets from many source addresses; testkit's HTTP/1.1 client on them
    tally       what the client counts (errors, messages, heartbeats) and how it is printed
    sessions    client SockJS sessions, one class per transport (websocket, xhr-streaming, xhr-polling)
    soakmode    --sessions/--duration: many sessions, checked traffic, RSS over time
    cycles      --cycles: open/close churn, RSS must stay flat
    idle        --idle: many idle websocket sessions on one process, read by one epoll

RFC 6455 frames are testkit.wsframe's, HTTP/1.1 testkit.rawhttp's. scripts/soak.py is the command line;
it puts this directory's parent on sys.path (running a script does), and
the repository root for testkit, and calls one mode.
"""
