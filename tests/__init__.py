"""The test suite (a package, so tests import their helpers as modules: ``from tests.cluster.clusterproc import ...``).

Helpers that the benchmarks and the soak share are in testkit/.
"""
