"""Tests for kvbook.bench: the --quick run's JSON, targets, slopes, options.

No test asserts a time: the machine running the tests sets those. The runs
use --quick sizes and start real child processes, with and without
NUMBA_DISABLE_JIT.
"""

import json
import math
import os
from pathlib import Path

import pytest

from kvbook import bench
from kvbook.traces import KNOWN_TRACES

ALGORITHMS = ["sps", "mcsf"]
SYNTHETIC = ["uniform-1m", "identical-1m"]

INTEGER_FIELDS = ("n", "budget", "rounds", "interpreted_n")
POSITIVE_FIELDS = (
    "load_seconds",
    "first_call_seconds",
    "seconds",
    "interpreted_seconds",
    "jit_seconds_on_interpreted_n",
    "speedup",
    "peak_rss_mb",
)


def run_json(capsys, options):
    status = bench.main(
        ["--quick", "--format", "json", "--repeats", "2", "--no-progress", *options]
    )
    captured = capsys.readouterr()
    return status, json.loads(captured.out), captured.err


@pytest.fixture(scope="module")
def quick_rows():
    """Rows of one --quick run of two algorithms on the synthetic workloads."""
    return bench.run_benchmark(
        ALGORITHMS,
        SYNTHETIC,
        repeats=2,
        interpreted_seconds=0.05,
        quick=True,
        progress=False,
    )


def test_quick_rows_cover_pairs(quick_rows):
    pairs = [(row["algorithm"], row["workload"]) for row in quick_rows]
    assert pairs == [(a, w) for w in SYNTHETIC for a in ALGORITHMS]


def test_quick_rows_keys(quick_rows):
    for row in quick_rows:
        assert list(row)[: len(bench.FIELDS)] == list(bench.FIELDS)
        assert list(row)[len(bench.FIELDS) :] == list(bench.EXTRA_FIELDS)


def test_quick_rows_types(quick_rows):
    for row in quick_rows:
        assert isinstance(row["algorithm"], str)
        assert isinstance(row["workload"], str)
        for key in INTEGER_FIELDS:
            assert type(row[key]) is int, key
        for key in POSITIVE_FIELDS:
            assert isinstance(row[key], float), key


def test_quick_rows_positive(quick_rows):
    for row in quick_rows:
        for key in POSITIVE_FIELDS:
            assert math.isfinite(row[key]), key
            assert row[key] > 0, key
        assert row["n"] > 0
        assert row["rounds"] > 0


def test_quick_rows_sizes(quick_rows):
    for row in quick_rows:
        expected = bench.workload_for(row["workload"], row["algorithm"], quick=True)
        assert row["n"] == expected.n
        assert row["budget"] == expected.budget
        assert 1 <= row["interpreted_n"] <= row["n"]


def test_quick_rows_speedup_ratio(quick_rows):
    for row in quick_rows:
        ratio = row["interpreted_seconds"] / row["jit_seconds_on_interpreted_n"]
        assert row["speedup"] == pytest.approx(ratio)


def test_quick_rows_valid(quick_rows):
    for row in quick_rows:
        assert row["valid"] is True
        assert 1 <= row["warm_calls"] <= 2


def test_quick_rows_table(quick_rows):
    table = bench.format_table(quick_rows).splitlines()
    assert table[0].split()[:3] == ["algorithm", "workload", "n"]
    assert len(table) == 1 + len(quick_rows)


def test_json_output(capsys):
    status, rows, err = run_json(
        capsys, ["--algorithms", "gba", "--workloads", "identical-1m"]
    )
    assert status == 0
    assert [row["algorithm"] for row in rows] == ["gba"]
    assert set(bench.FIELDS) <= set(rows[0])
    assert "speedup >= 100" in err


@pytest.mark.skipif(
    not (
        os.environ.get("KVBOOK_DATA_DIR")
        and (
            Path(os.environ["KVBOOK_DATA_DIR"]) / KNOWN_TRACES["azure-code"].file_name
        ).is_file()
    ),
    reason="the azure-code trace is not in KVBOOK_DATA_DIR",
)
def test_json_output_trace(capsys):
    status, rows, _ = run_json(
        capsys, ["--algorithms", "fcfs_recompute", "--workloads", "azure-code"]
    )
    assert status == 0
    assert rows[0]["workload"] == "azure-code"
    assert rows[0]["n"] == bench.QUICK_TRACE_N
    assert rows[0]["budget"] == bench.TRACE_BUDGET
    assert rows[0]["speedup"] > 0


def test_scaling_json(capsys):
    status, result, _ = run_json(capsys, ["--scaling", "--algorithms", "sps"])
    assert status == 0
    assert [point["n"] for point in result["points"]] == bench.scaling_sizes(quick=True)
    assert list(result["slopes"]) == ["sps"]
    assert math.isfinite(result["slopes"]["sps"])
    for point in result["points"]:
        assert point["seconds"] > 0


def test_workload_for_subset():
    assert bench.workload_for("identical-1m", "amin").n == bench.SUBSET_N
    assert bench.workload_for("identical-1m", "gsa").n == bench.LARGE_N
    assert bench.workload_for("identical-1m", "gsa").budget == bench.LARGE_BUDGET


def test_workload_for_unknown():
    with pytest.raises(ValueError, match="unknown workload 'poisson'"):
        bench.workload_for("poisson", "gsa")


def test_build_instance_uniform_prefix():
    whole = bench.build_instance(bench.Workload("uniform-1m", 50, 10_000))
    prefix = bench.build_instance(bench.Workload("uniform-1m", 50, 10_000), 20)
    assert prefix.output.tolist() == whole.output[:20].tolist()
    assert int(whole.output.min()) >= 1
    assert int(whole.output.max()) <= 256
    assert int(whole.prompt[0]) == bench.SYNTHETIC_PROMPT


def test_fit_slope_power_law():
    sizes = [1e3, 1e4, 1e5, 1e6]
    assert bench.fit_slope(sizes, [2e-9 * n**1.5 for n in sizes]) == pytest.approx(1.5)


def test_fit_slope_rejects_zero_time():
    with pytest.raises(ValueError, match="positive times"):
        bench.fit_slope([10, 100], [0.0, 1.0])


def row(algorithm, workload, **values):
    base = {
        "algorithm": algorithm,
        "workload": workload,
        "seconds": 1.0,
        "load_seconds": 0.5,
        "speedup": 500.0,
        "peak_rss_mb": 300.0,
    }
    base.update(values)
    return base


def verdicts(rows):
    return {check.target: check.met for check in bench.evaluate_targets(rows)}


def test_targets_synthetic_met():
    result = verdicts([row("gsa", "uniform-1m")])
    assert result == {
        "warm seconds <= 10 on synthetic workloads": True,
        "peak RSS <= 2048 MiB on synthetic workloads": True,
        "speedup >= 100": True,
        "cache load <= 1 s": True,
    }


def test_targets_synthetic_missed():
    result = verdicts(
        [
            row(
                "gsa",
                "uniform-1m",
                seconds=12.0,
                load_seconds=1.5,
                speedup=50.0,
                peak_rss_mb=3000.0,
            )
        ]
    )
    assert set(result.values()) == {False}


def test_targets_trace_time():
    assert verdicts([row("sps", "azure-conv", seconds=0.1)]) == {
        "warm seconds <= 0.1 on traces": True,
        "speedup >= 100": True,
        "cache load <= 1 s": True,
    }
    assert not verdicts([row("sps", "azure-conv", seconds=0.11)])[
        "warm seconds <= 0.1 on traces"
    ]


def test_format_targets_lists_misses():
    checks = bench.evaluate_targets(
        [row("sps", "azure-code", seconds=0.05), row("gsa", "azure-code", seconds=0.3)]
    )
    lines = bench.format_targets(checks).splitlines()
    assert lines[0] == (
        "warm seconds <= 0.1 on traces: not met on 1 of 2 rows: gsa/azure-code (0.3)"
    )
    assert lines[1] == "speedup >= 100: met on all 2 rows"


@pytest.mark.parametrize(
    "options, message",
    [
        (["--workloads", "poisson"], "unknown workload 'poisson'"),
        (["--algorithms", "fifo"], "unknown algorithm 'fifo'"),
        (["--repeats", "0"], "expected a positive integer, got '0'"),
        (["--max-warm-seconds", "nan"], "expected a positive number of seconds"),
    ],
)
def test_options_rejected(capsys, options, message):
    with pytest.raises(SystemExit) as raised:
        bench.main(options)
    assert raised.value.code == 2
    assert message in capsys.readouterr().err


def test_child_failure_reported(capsys, monkeypatch):
    def fail(task, *, interpreted=False):
        raise bench.BenchError("benchmark task (warm_cache) failed with exit status 1")

    monkeypatch.setattr(bench, "_run_child", fail)
    status = bench.main(["--quick", "--workloads", "identical-1m", "--no-progress"])
    assert status == 1
    assert "kvbook bench: error: benchmark task (warm_cache) failed" in (
        capsys.readouterr().err
    )


def test_json_file_unwritable(capsys, tmp_path):
    path = tmp_path / "missing" / "rows.json"
    status = bench.main(["--quick", "--json-file", str(path), "--no-progress"])
    assert status == 1
    assert f"cannot write --json-file {path}" in capsys.readouterr().err


def test_json_file_written(capsys, tmp_path):
    path = tmp_path / "scaling.json"
    status = bench.main(
        [
            "--quick",
            "--scaling",
            "--algorithms",
            "gba",
            "--repeats",
            "1",
            "--json-file",
            str(path),
            "--no-progress",
        ]
    )
    assert status == 0
    saved = json.loads(path.read_text())
    assert list(saved["slopes"]) == ["gba"]
    assert "log-log slope" in capsys.readouterr().out
