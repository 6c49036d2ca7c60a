"""bench/lib/rounds.py: several rounds of a scenario letter become one result per server, the median of each figure."""

from __future__ import annotations

from bench.lib.rounds import combine, turns


def _round(rate: float, us: float, client: float) -> dict:
    return {"ws_echo": {"rate": rate, "server_us_per_op": us, "cpu_cores": {"server": 0.9, "client": client}}}


def test_the_servers_take_turns_first():
    assert [turns(["ours", "theirs"], i) for i in range(3)] == [
        ["ours", "theirs"],
        ["theirs", "ours"],
        ["ours", "theirs"],
    ]


def test_each_figure_is_the_median_of_the_rounds_and_the_rounds_are_kept():
    rounds = [_round(100.0, 10.0, 0.5), _round(300.0, 30.0, 0.6), _round(200.0, 20.0, 0.4)]
    combined = combine(rounds)["ws_echo"]
    assert combined["rate"] == 200.0
    assert combined["server_us_per_op"] == 20.0
    assert combined["cpu_cores"]["server"] == 0.9
    assert [r["rate"] for r in combined["rounds"]] == [100.0, 300.0, 200.0]


def test_the_generator_share_is_the_highest_of_the_rounds():
    # (one generator-bound round stars the figure: it is not claimed)
    rounds = [_round(100.0, 10.0, 0.5), _round(300.0, 30.0, 0.85), _round(200.0, 20.0, 0.4)]
    assert combine(rounds)["ws_echo"]["cpu_cores"]["client"] == 0.85


def test_a_failure_in_any_round_is_the_result():
    rounds = [_round(100.0, 10.0, 0.5), {"ws_echo": {"failed": "server did not start"}}]
    assert combine(rounds)["ws_echo"] == {"failed": "server did not start"}


def test_one_round_is_passed_on_as_it_is():
    only = _round(100.0, 10.0, 0.5)
    assert combine([only]) == only


def test_runs_py_passes_bench_options_on_with_their_values():
    from bench.runs import split_arguments

    own, rest = split_arguments(["--run", "5", "--rounds", "3", "--duration", "4", "--out-dir=/tmp/x", "--markdown"])
    assert own == ["--run", "5", "--out-dir=/tmp/x", "--markdown"]
    assert rest == ["--rounds", "3", "--duration", "4"]
