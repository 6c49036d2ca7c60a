"""What the benchmark entry points share: processes and cores, load generators, scenarios, the table."""
