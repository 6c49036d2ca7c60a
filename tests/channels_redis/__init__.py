"""Channels over real Redis and Redis Cluster, each worker a subprocess (issue 27).

    hubproc   a channel hub in its own process, driven by JSON lines on stdin
    hubs      the pytest side: ``Hub`` drives one hubproc, ``start_hubs`` several
    conftest  fixtures: redis_server, redis_cluster (per module), redis_cluster_factory, hubs

Redis itself comes from testkit.redisservers (RedisServer, RedisCluster).
"""
