"""The servers under test that the benchmarks start, each a program printing ``... listening on http://HOST:PORT``."""
