"""The parts of scripts/soak.py, one module per job.

    serverproc  the test server subprocess (testkit's starter), /proc readings, /stats
    rawclient   raw sockets: connecting from many source addresses, HTTP/1.1
    tally       what the client counts (errors, messages, heartbeats) and how it is printed
    sessions    client SockJS sessions, one class per transport (websocket, xhr-streaming, xhr-polling)
    soakmode    --sessions/--duration: many sessions, checked traffic, RSS over time
    cycles      --cycles: open/close churn, RSS must stay flat
    idle        --idle: many idle websocket sessions on one process, read by one epoll

RFC 6455 frames are testkit.wsframe's. scripts/soak.py is the command line;
it puts this directory's parent on sys.path (running a script does), and
the repository root for testkit, and calls one mode.
"""
