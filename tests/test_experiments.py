"""Tests for kvbook.experiments: measurements, sweeps, search and the table."""

from __future__ import annotations

import dataclasses
import json
import os

import numpy as np
import pytest

import kvbook.experiments as experiments
from kvbook.algorithms import ALGORITHMS, run
from kvbook.experiments import (
    CLAIMS,
    Measurement,
    Reference,
    TableRow,
    adversarial_search,
    exact_optimum,
    large_memory_instances,
    large_memory_sweep,
    measure,
    reference,
    reproduction_table,
    sweep,
    table_markdown,
)
from kvbook.families import load_instance_json, uniform
from kvbook.model import make_instance
from kvbook.opt import brute_force_optimum, optimum
from kvbook.validate import ScheduleError

WORKED = make_instance([3, 3, 3], prompt=2, budget=12)

TINY_TABLE = dict(
    seeds=1,
    small_budgets=(12,),
    small_jobs=3,
    large_budgets=(256,),
    large_jobs=50,
    memory_budgets=(128, 256),
    limit_budgets=(256, 1024, 4096, 16384),
)


# --- reference and exact_optimum -------------------------------------------------


def test_reference_worked_example_opt():
    assert reference(WORKED) == Reference(12, "OPT")


def test_reference_worked_example_lb():
    assert reference(WORKED, "lb") == Reference(9, "LB")


def test_reference_auto_falls_back_to_lb():
    instance = uniform(500, s=4, low=1, high=60, budget=128, seed=0)
    assert reference(instance).kind == "LB"


def test_reference_opt_too_large_raises():
    instance = uniform(500, s=4, low=1, high=60, budget=128, seed=0)
    with pytest.raises(ValueError, match="too large"):
        reference(instance, "opt")


def test_reference_unknown_kind():
    with pytest.raises(ValueError, match="'auto', 'opt' or 'lb'"):
        reference(WORKED, "exact")


def test_exact_optimum_brute_force_matches_milp():
    instance = make_instance([5, 1, 3, 4, 2], prompt=2, budget=11)
    assert exact_optimum(instance) == optimum(instance).flow_time


def test_exact_optimum_milp_beyond_enumeration():
    # Seven jobs exceed the enumeration limit, so HiGHS solves this one.
    instance = make_instance([1, 2, 3, 1, 2, 3, 1], prompt=1, budget=9)
    expected = brute_force_optimum(instance, max_jobs=7).flow_time
    assert exact_optimum(instance) == expected


def test_exact_optimum_methods_agree():
    instance = make_instance([2, 2, 3, 1], prompt=3, budget=10)
    by_enumeration = exact_optimum(instance, method="enumeration")
    assert exact_optimum(instance, method="milp") == by_enumeration


def test_exact_optimum_unknown_method():
    with pytest.raises(ValueError, match="'auto', 'enumeration' or 'milp'"):
        exact_optimum(WORKED, method="greedy")


def test_solver_output_suppressed(capfd):
    with experiments._solver_output_suppressed():
        os.write(1, b"solver noise\n")
    os.write(1, b"after\n")
    captured = capfd.readouterr().out
    assert "solver noise" not in captured
    assert "after" in captured


# --- measure and sweep -----------------------------------------------------------


@pytest.mark.parametrize("algorithm", sorted(ALGORITHMS))
def test_measure_ratio_at_least_one(algorithm):
    instance = make_instance([4, 1, 6, 2, 3], prompt=2, budget=14)
    row = measure(algorithm, instance)
    assert row.reference_kind == "OPT"
    assert row.ratio >= 1
    assert row.valid


def test_measure_fields_worked_example():
    row = measure("sps", WORKED, reference="lb")
    assert row.flow_time == 12
    assert row.reference == 9
    assert row.ratio == pytest.approx(12 / 9)
    assert row.kills == 0
    assert row.n == 3
    assert row.budget == 12


def test_measure_utilization_worked_example():
    # SPS's schedule uses 3, 7, 12, 9 and 5 tokens in its 5 rounds, and M = 12.
    row = measure("sps", WORKED)
    assert row.utilization == pytest.approx(36 / 60)


def test_measure_counts_kills():
    row = measure("gsa", make_instance([1, 3], prompt=1, budget=8))
    assert row.kills == 2


def test_measure_passes_params():
    instance = make_instance([5, 5, 5], prompt=1, budget=8)
    by_two = measure("gsa", instance, beta=2)
    by_four = measure("gsa", instance, beta=4)
    assert by_two.flow_time != by_four.flow_time


def test_measure_reuses_reference():
    row = measure("sps", WORKED, reference=Reference(6, "OPT"))
    assert row.ratio == 2


def test_measure_unknown_algorithm():
    with pytest.raises(ValueError, match="unknown algorithm 'fifo'"):
        measure("fifo", WORKED)


def test_measure_rejects_non_instance():
    with pytest.raises(ValueError, match="Instance"):
        measure("sps", [3, 3, 3])


def test_measure_invalid_schedule_raises(monkeypatch):
    def broken(name, instance, **params):
        schedule = run(name, instance, **params)
        return dataclasses.replace(schedule, flow_time=schedule.flow_time - 1)

    monkeypatch.setattr(experiments, "run", broken)
    with pytest.raises(ScheduleError, match="reported flow time"):
        measure("sps", WORKED)


def test_measurement_as_dict_keys():
    row = measure("sps", WORKED)
    expected = [field.name for field in dataclasses.fields(Measurement)]
    assert list(row.as_dict()) == expected


def test_sweep_order_and_shared_reference():
    instances = [WORKED, make_instance([2, 2], prompt=1, budget=6)]
    rows = sweep(["sps", "gsa"], instances)
    assert [(row.algorithm, row.n) for row in rows] == [
        ("sps", 3),
        ("gsa", 3),
        ("sps", 2),
        ("gsa", 2),
    ]
    assert rows[0].reference == rows[1].reference


def test_sweep_all_names():
    rows = sweep("all", [WORKED])
    assert [row.algorithm for row in rows] == list(ALGORITHMS)


def test_sweep_params_for_unmeasured_algorithm():
    with pytest.raises(ValueError, match="not among the algorithms"):
        sweep(["sps"], [WORKED], params={"gsa": {"beta": 3}})


# --- large-memory sweeps ---------------------------------------------------------


def test_large_memory_jobs_grow_with_budget():
    instances = large_memory_instances([64, 128, 256], prompt=4, output=4, load=2)
    assert [inst.n for inst in instances] == [16, 32, 64]


def test_large_memory_exponent():
    instances = large_memory_instances([64, 256], prompt=4, output=4, exponent=1.5)
    # c = 8 and 32 jobs fit at once at their peaks, and n = ceil(4 * c ** 1.5).
    assert [inst.n for inst in instances] == [91, 725]


def test_large_memory_fixed_prompt_and_lengths():
    lengths = [1, 5, 9]
    instances = large_memory_instances([32, 64], prompt=3, output=lengths, seed=2)
    for instance in instances:
        assert np.all(instance.prompt == 3)
        assert set(instance.output.tolist()) <= set(lengths)


def test_large_memory_seeded():
    first = large_memory_instances([32, 64], prompt=3, output=[1, 5, 9], seed=2)
    second = large_memory_instances([32, 64], prompt=3, output=[1, 5, 9], seed=2)
    assert np.array_equal(first[1].output, second[1].output)


def test_large_memory_budget_too_small():
    with pytest.raises(ValueError, match="start the budgets at 20"):
        large_memory_instances([16, 32], prompt=4, output=[1, 16])


def test_large_memory_budgets_increase():
    with pytest.raises(ValueError, match="increase strictly"):
        large_memory_instances([64, 32], prompt=4, output=4)


def test_large_memory_too_many_jobs():
    with pytest.raises(ValueError, match="more than 2000000"):
        large_memory_instances([2**20], prompt=4, output=4, exponent=2)


def test_large_memory_sweep_sps_approaches_one():
    rows = large_memory_sweep(
        "sps", [2**8, 2**11, 2**14], prompt=8, output=16, exponent=1.5
    )
    ratios = [row.ratio for row in rows]
    assert ratios[0] > ratios[1] > ratios[2] >= 1
    assert all(row.reference_kind == "LB" for row in rows)


# --- adversarial search ----------------------------------------------------------


def test_search_deterministic_per_seed():
    first = adversarial_search("fcfs_recompute", seed=3, steps=60)
    second = adversarial_search("fcfs_recompute", seed=3, steps=60)
    assert first.ratio == second.ratio
    assert np.array_equal(first.instance.output, second.instance.output)
    assert first.instance.budget == second.instance.budget
    assert np.array_equal(first.best, second.best)


def test_search_ratio_recomputes():
    result = adversarial_search("gsa", seed=1, steps=60)
    row = measure("gsa", result.instance, reference="opt")
    assert row.flow_time == result.flow_time
    assert row.reference == result.optimum
    assert row.ratio == result.ratio


def test_search_optimum_matches_milp():
    result = adversarial_search("greedy_batch", seed=2, steps=60)
    assert optimum(result.instance).flow_time == result.optimum


def test_search_best_curve_non_decreasing():
    result = adversarial_search("gba", seed=0, steps=80, restart_every=20)
    assert np.all(np.diff(result.best) >= 0)
    assert result.best[-1] == result.ratio
    assert np.all(result.current <= result.best)


def test_search_respects_limits():
    result = adversarial_search(
        "mcsf", seed=4, steps=60, max_jobs=3, max_output=4, max_prompt=2, max_budget=9
    )
    instance = result.instance
    assert instance.n <= 3
    assert int(instance.output.max()) <= 4
    assert int(instance.prompt.max()) <= 2
    assert instance.budget <= 9


def test_search_identical_jobs():
    result = adversarial_search("sps", seed=0, steps=60, identical=True)
    assert np.all(result.instance.output == result.instance.output[0])
    assert result.ratio >= 1


def test_search_passes_params():
    result = adversarial_search("gsa", seed=0, steps=5, beta=3)
    assert result.params == {"beta": 3}


def test_search_rejects_bad_limit():
    with pytest.raises(ValueError, match="max_budget must be at least 2"):
        adversarial_search("gsa", seed=0, max_budget=1)


def test_search_result_save_round_trip(tmp_path):
    result = adversarial_search("gsa", seed=0, steps=20)
    path = result.save(tmp_path / "adversarial_gsa.json")
    loaded = load_instance_json(path)
    record = json.loads(path.read_text())
    assert np.array_equal(loaded.output, result.instance.output)
    assert loaded.budget == result.instance.budget
    assert record["ratio"] == result.ratio
    assert record["algorithm"] == "gsa"


# --- reproduction table ----------------------------------------------------------


def test_table_six_rows_pass():
    rows = reproduction_table(**TINY_TABLE)
    assert len(rows) == 6
    assert [row.claim for row in rows] == list(CLAIMS)
    for row in rows:
        assert row.passed, row.verdict
        assert row.verdict.startswith("pass")


def test_table_uses_adversarial_files(tmp_path):
    result = adversarial_search("gsa", seed=0, steps=40)
    result.save(tmp_path / "adversarial_gsa.json")
    rows = reproduction_table(tmp_path, **TINY_TABLE)
    assert rows[0].measured >= result.ratio


def test_adversarial_files_named_by_folder(tmp_path):
    result = adversarial_search("gsa", seed=0, steps=10)
    result.save(tmp_path / "adversarial_gsa.json")
    result.save(tmp_path / "other.json")
    found = list(experiments._adversarial_files(tmp_path))
    assert [source for source, _ in found] == [f"{tmp_path.name}/adversarial_gsa.json"]


def test_table_missing_folder(tmp_path):
    with pytest.raises(ValueError, match="is not a folder"):
        reproduction_table(tmp_path / "absent", **TINY_TABLE)


def test_bound_verdict_fails_against_opt():
    row = measure("sps", WORKED, reference=Reference(4, "OPT"))
    verdict, passed = experiments._bound_verdict(CLAIMS[4], row)
    assert not passed
    assert verdict.startswith("FAIL: 3.000 > 2")


def test_bound_verdict_inconclusive_against_lb():
    row = measure("sps", WORKED, reference=Reference(4, "LB"))
    verdict, passed = experiments._bound_verdict(CLAIMS[4], row)
    assert not passed
    assert "only against the lower bound" in verdict


def test_limit_row_fails_when_ratio_levels_off(monkeypatch):
    budgets = [2**k for k in range(6, 12)]

    def levelling(algorithm, budgets, **kwargs):
        return [
            Measurement("sps", "", 1, b, 0, 1, "LB", 1.2 + 2 / b, 0, 0.5, True)
            for b in budgets
        ]

    monkeypatch.setattr(experiments, "large_memory_sweep", levelling)
    _, _, verdict, passed = experiments._limit_row(budgets, -0.25, {})
    assert not passed
    assert verdict.startswith("FAIL: last")


def test_limit_row_fails_when_ratio_rises(monkeypatch):
    budgets = [2**k for k in range(6, 10)]
    ratios = {64: 1.5, 128: 1.2, 256: 1.3, 512: 1.01}

    def rising(algorithm, budgets, **kwargs):
        return [
            Measurement("sps", "", 1, b, 0, 1, "LB", ratios[b], 0, 0.5, True)
            for b in budgets
        ]

    monkeypatch.setattr(experiments, "large_memory_sweep", rising)
    _, _, verdict, passed = experiments._limit_row(budgets, -0.25, {})
    assert not passed
    assert verdict.startswith("FAIL: the ratio rises from M=128 to M=256")


def test_gap_slope_of_power_law():
    budgets = [2**k for k in range(8, 14)]
    ratios = 1 + 3 * np.array(budgets, dtype=float) ** -0.5
    assert experiments._gap_slope(budgets, ratios) == pytest.approx(-0.5)


def test_table_markdown_lines():
    row = TableRow(CLAIMS[0], 4.5, "vs OPT", "a|b", "pass: 4.500 <= 61.92", True)
    lines = table_markdown([row, row]).splitlines()
    assert len(lines) == 4
    assert "a\\|b" in lines[2]
    assert lines[2].startswith("| non-clairvoyant (GSA) | general | 61.92 |")


def test_table_markdown_rejects_dicts():
    with pytest.raises(ValueError, match="TableRow"):
        table_markdown([{"setting": "x"}])
