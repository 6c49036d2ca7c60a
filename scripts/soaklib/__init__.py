"""The parts of scripts/soak.py, one module per job.

    serverproc  the test server subprocess, RLIMIT_NOFILE, /proc readings, /stats
    rawclient   raw sockets: connecting from many source addresses, HTTP/1.1, RFC 6455 frames
    tally       what the client counts (errors, messages, heartbeats) and how it is printed
    sessions    client SockJS sessions, one class per transport (websocket, xhr-streaming, xhr-polling)
    soakmode    --sessions/--duration: many sessions, checked traffic, RSS over time
    cycles      --cycles: open/close churn, RSS must stay flat

scripts/soak.py is the command line; it puts this directory's parent on
sys.path (running a script does) and calls one mode.
"""
