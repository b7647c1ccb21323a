"""Tests for the kvbook command line: kvbook run, bench dispatch, errors."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import types
import urllib.error
import urllib.request
from pathlib import Path

import pytest

import kvbook
from kvbook import cli
from kvbook.algorithms import ALGORITHMS

SHARED_AZURE = (
    Path(__file__).resolve().parents[2] / "shared" / "data" / "azure-llm-2023"
)

ROW_KEYS = {
    "algorithm",
    "clairvoyant",
    "flow_time",
    "lower_bound",
    "ratio_to_lower_bound",
    "kills",
    "peak_memory",
    "seconds",
    "valid",
}

CONV_300 = ["run", "--trace", "azure-conv", "--budget", "16384", "--limit", "300"]


@pytest.fixture(autouse=True)
def isolated(monkeypatch, tmp_path):
    """Point the trace cache at tmp_path, unset the data dir, forbid the network."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("KVBOOK_DATA_DIR", raising=False)

    def no_network(*args, **kwargs):
        raise AssertionError("a test tried to open a URL; mock urlopen instead")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)


@pytest.fixture
def azure(monkeypatch):
    if not (SHARED_AZURE / "AzureLLMInferenceTrace_conv.csv").is_file():
        pytest.skip(f"shared Azure traces not found in {SHARED_AZURE}")
    monkeypatch.setenv("KVBOOK_DATA_DIR", str(SHARED_AZURE))


@pytest.fixture
def small_csv(tmp_path):
    """Five requests in custom columns. Job 3 needs 150 tokens at its peak."""
    path = tmp_path / "small.csv"
    path.write_text(
        "id,prompt_len,output_len\n"
        "a,10,5\n"
        "b,20,8\n"
        "c,12,3\n"
        "d,100,50\n"
        "e,30,4\n"
    )
    return path


def run_main(capsys, argv):
    """Run ``main(argv)`` and return the status, stdout and stderr lines."""
    status = cli.main(argv)
    captured = capsys.readouterr()
    return status, captured.out, captured.err.splitlines()


def run_json(capsys, argv):
    status, out, err = run_main(capsys, argv + ["--format", "json"])
    assert status == 0, err
    return json.loads(out), err


def read_csv(path: Path) -> list[list[str]]:
    with open(path, newline="") as handle:
        return list(csv.reader(handle))


def test_run_table_lines(azure, capsys):
    status, out, err = run_main(capsys, CONV_300)
    lines = out.splitlines()
    assert status == 0
    assert lines[0].startswith("azure-conv: n = 300 jobs, budget M = 16384 tokens")
    assert "lower bound" in lines[0]
    assert lines[1].split() == [
        "algorithm",
        "clairvoyant",
        "flow_time",
        "lower_bound",
        "ratio",
        "kills",
        "peak_memory",
        "seconds",
        "valid",
    ]
    assert [line.split()[0] for line in lines[2:]] == list(ALGORITHMS)


def test_run_table_alignment(azure, capsys):
    _, out, _ = run_main(capsys, CONV_300)
    header, *rows = out.splitlines()[1:]
    for column in ("flow_time", "lower_bound", "ratio", "kills", "seconds"):
        end = header.index(column) + len(column)
        for row in rows:
            assert row[end - 1].isdigit(), (column, row)
            assert row[end] == " ", (column, row)
    valid_start = header.index("valid")
    for row in rows:
        assert row[valid_start:] in ("yes", "no"), row


def test_run_table_ratio_three_decimals(azure, capsys):
    _, out, _ = run_main(capsys, CONV_300)
    for row in out.splitlines()[2:]:
        ratio = row.split()[4]
        assert len(ratio.split(".")[1]) == 3, row


def test_run_json_keys_and_types(azure, capsys):
    rows, _ = run_json(capsys, CONV_300)
    assert [row["algorithm"] for row in rows] == list(ALGORITHMS)
    for row in rows:
        assert set(row) == ROW_KEYS
        assert isinstance(row["clairvoyant"], bool)
        assert isinstance(row["valid"], bool)
        for key in ("flow_time", "lower_bound", "kills", "peak_memory"):
            assert type(row[key]) is int, key
        assert isinstance(row["ratio_to_lower_bound"], float)
        assert isinstance(row["seconds"], float)


def test_run_json_values(azure, capsys):
    rows, _ = run_json(capsys, CONV_300)
    for row in rows:
        name = row["algorithm"]
        assert row["clairvoyant"] == ALGORITHMS[name].clairvoyant, name
        assert row["ratio_to_lower_bound"] == pytest.approx(
            row["flow_time"] / row["lower_bound"]
        ), name
        assert 0 < row["peak_memory"] <= 16384, name
        assert row["seconds"] >= 0, name
    assert len({row["lower_bound"] for row in rows}) == 1


def test_run_every_algorithm_valid(azure, capsys):
    rows, _ = run_json(capsys, CONV_300)
    for row in rows:
        assert row["valid"] is True, row["algorithm"]
        assert row["ratio_to_lower_bound"] >= 1, row["algorithm"]


def test_run_algorithm_subset(azure, capsys):
    rows, _ = run_json(capsys, CONV_300 + ["--algorithms", "gsa, mcsf"])
    assert [row["algorithm"] for row in rows] == ["gsa", "mcsf"]


def test_run_azure_code(azure, capsys):
    argv = ["run", "--trace", "azure-code", "--budget", "16384", "--limit", "200"]
    status, out, _ = run_main(capsys, argv)
    assert status == 0
    assert out.startswith("azure-code: n = 200 jobs")


def test_save_schedules_files(azure, capsys, tmp_path):
    folder = tmp_path / "new" / "schedules"
    rows, _ = run_json(capsys, CONV_300 + ["--save-schedules", str(folder)])
    names = sorted(path.name for path in folder.iterdir())
    expected = ["instance.csv", "instance.json"] + [f"{n}.csv" for n in ALGORITHMS]
    assert names == sorted(expected)
    instance = read_csv(folder / "instance.csv")
    assert instance[0] == ["job", "prompt", "output"]
    assert len(instance) == 301
    assert [int(line[0]) for line in instance[1:]] == list(range(300))
    assert json.loads((folder / "instance.json").read_text()) == {"budget": 16384}
    for row in rows:
        runs = read_csv(folder / f"{row['algorithm']}.csv")
        assert runs[0] == ["job", "start", "length", "completed"]
        assert {line[3] for line in runs[1:]} <= {"0", "1"}


def test_save_schedules_flow_recomputes(azure, capsys, tmp_path):
    folder = tmp_path / "schedules"
    rows, _ = run_json(capsys, CONV_300 + ["--save-schedules", str(folder)])
    outputs = [int(line[2]) for line in read_csv(folder / "instance.csv")[1:]]
    for row in rows:
        lines = read_csv(folder / f"{row['algorithm']}.csv")[1:]
        runs = [[int(field) for field in line] for line in lines]
        completions = {}
        for job, start, length, completed in runs:
            if completed:
                assert job not in completions, (row["algorithm"], job)
                assert length == outputs[job], (row["algorithm"], job)
                completions[job] = start + length
        killed = sum(1 for line in runs if line[3] == 0)
        assert sorted(completions) == list(range(300)), row["algorithm"]
        assert sum(completions.values()) == row["flow_time"], row["algorithm"]
        assert killed == row["kills"], row["algorithm"]


def test_figure_writes_png(azure, capsys, tmp_path):
    path = tmp_path / "run.png"
    status, out, _ = run_main(
        capsys, CONV_300 + ["--algorithms", "sps,gsa,mcsf", "--figure", str(path)]
    )
    assert status == 0
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert out.count("\n") == 5


def test_csv_custom_columns(capsys, small_csv):
    argv = ["run", "--trace", str(small_csv), "--budget", "200"]
    argv += ["--prompt-column", "prompt_len", "--output-column", "output_len"]
    rows, err = run_json(capsys, argv)
    assert not any(line.startswith("kvbook: error") for line in err)
    assert len(rows) == len(ALGORITHMS)
    # Areas o*s + o*(o+1)/2 are 65, 196, 42, 6275, 130: all fit in 200 tokens,
    # and the bound sums max(o_(k), ceil(P_k / 200)) = 3 + 4 + 5 + 8 + 50.
    assert rows[0]["lower_bound"] == 70


def test_jsonl_custom_columns(capsys, tmp_path):
    path = tmp_path / "small.jsonl"
    lines = [{"s": 10, "o": 5, "user": "x"}, {"s": 20, "o": 8}, {"s": 12, "o": 3}]
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    argv = ["run", "--trace", str(path), "--budget", "64"]
    argv += ["--prompt-column", "s", "--output-column", "o"]
    status, out, err = run_main(capsys, argv)
    assert status == 0
    assert out.startswith(f"{path}: n = 3 jobs, budget M = 64 tokens")
    assert len(out.splitlines()) == 2 + len(ALGORITHMS)


def test_prompt_median(capsys, small_csv):
    argv = ["run", "--trace", str(small_csv), "--budget", "200", "--prompt", "median"]
    argv += ["--prompt-column", "prompt_len", "--output-column", "output_len"]
    status, out, _ = run_main(capsys, argv)
    assert status == 0
    assert "prompt s = 20 tokens (median of the trace)" in out.splitlines()[0]


def test_prompt_number(capsys, small_csv):
    argv = ["run", "--trace", str(small_csv), "--budget", "200", "--prompt", "7"]
    argv += ["--prompt-column", "prompt_len", "--output-column", "output_len"]
    status, out, _ = run_main(capsys, argv)
    assert status == 0
    assert "prompt s = 7 tokens" in out.splitlines()[0]


def test_drop_infeasible_message(capsys, small_csv):
    argv = ["run", "--trace", str(small_csv), "--budget", "60", "--drop-infeasible"]
    argv += ["--prompt-column", "prompt_len", "--output-column", "output_len"]
    rows, err = run_json(capsys, argv)
    assert err[0] == (
        "kvbook: dropped 1 of 5 jobs whose peak s_i + o_i exceeds the budget of "
        "60 tokens; 4 remain"
    )
    assert all(row["valid"] for row in rows)


def test_drop_infeasible_instance_size(capsys, small_csv):
    argv = ["run", "--trace", str(small_csv), "--budget", "60", "--drop-infeasible"]
    argv += ["--prompt-column", "prompt_len", "--output-column", "output_len"]
    status, out, _ = run_main(capsys, argv)
    assert status == 0
    assert ": n = 4 jobs" in out.splitlines()[0]


def test_notes_on_stderr(capsys, small_csv, monkeypatch):
    real_run = cli.run

    def run_with_notes(name, instance):
        schedule = real_run(name, instance)
        schedule.notes = [f"{name} first note", "second\nnote"]
        return schedule

    monkeypatch.setattr(cli, "run", run_with_notes)
    argv = ["run", "--trace", str(small_csv), "--budget", "200", "--algorithms", "gsa"]
    argv += ["--prompt-column", "prompt_len", "--output-column", "output_len"]
    status, out, err = run_main(capsys, argv)
    assert status == 0
    assert err == [
        "kvbook: note from gsa: gsa first note",
        "kvbook: note from gsa: second note",
    ]
    assert "kvbook: note" not in out


def test_progress_bar_off_without_tty(capsys, small_csv):
    argv = ["run", "--trace", str(small_csv), "--budget", "200"]
    argv += ["--prompt-column", "prompt_len", "--output-column", "output_len"]
    argv += ["--algorithms", "gsa,mcsf"]
    status, _, err = run_main(capsys, argv)
    assert status == 0
    assert err == []


class TerminalBuffer(io.StringIO):
    def isatty(self):
        return True


def test_progress_bar_on_tty_stderr(capsys, small_csv, monkeypatch):
    terminal = TerminalBuffer()
    monkeypatch.setattr(sys, "stderr", terminal)
    argv = ["run", "--trace", str(small_csv), "--budget", "200"]
    argv += ["--prompt-column", "prompt_len", "--output-column", "output_len"]
    argv += ["--algorithms", "gsa,mcsf", "--format", "json"]
    status = cli.main(argv)
    out = capsys.readouterr().out
    assert status == 0
    assert "0/2 [" in terminal.getvalue()
    assert "algorithm/s" in terminal.getvalue()
    assert [row["algorithm"] for row in json.loads(out)] == ["gsa", "mcsf"]


def test_invalid_schedule_exit_one(capsys, small_csv, monkeypatch):
    real_run = cli.run

    def run_wrong_flow(name, instance):
        schedule = real_run(name, instance)
        schedule.flow_time += 1
        return schedule

    monkeypatch.setattr(cli, "run", run_wrong_flow)
    argv = ["run", "--trace", str(small_csv), "--budget", "200", "--algorithms", "mcsf"]
    argv += ["--prompt-column", "prompt_len", "--output-column", "output_len"]
    argv += ["--format", "json"]
    status, out, err = run_main(capsys, argv)
    assert status == 1
    assert json.loads(out)[0]["valid"] is False
    assert len(err) == 1
    assert err[0].startswith("kvbook: the validator rejected the mcsf schedule")


def bad_input_cases(tmp_path: Path, small_csv: Path):
    """Argument lists of invalid input, each with a text the error must name."""
    columns = ["--prompt-column", "prompt_len", "--output-column", "output_len"]
    small = ["run", "--trace", str(small_csv), "--budget", "200"] + columns
    plain_file = tmp_path / "plain.txt"
    plain_file.write_text("not a directory")
    return {
        "unknown trace": (
            ["run", "--trace", "azure-foo", "--budget", "9"],
            "azure-foo",
        ),
        "missing file": (
            ["run", "--trace", str(tmp_path / "absent.csv"), "--budget", "9"],
            "absent.csv",
        ),
        "bad column": (
            ["run", "--trace", str(small_csv), "--budget", "200"],
            "--prompt-column",
        ),
        "zero budget": (small[:4] + ["0"] + columns, "'0'"),
        "negative budget": (small[:4] + ["-5"] + columns, "'-5'"),
        "text budget": (small[:4] + ["lots"] + columns, "'lots'"),
        "no budget": (small[:3], "--budget"),
        "unknown algorithm": (small + ["--algorithms", "sps,fifo"], "'fifo'"),
        "empty algorithms": (small + ["--algorithms", ","], "algorithm"),
        "bad prompt word": (small + ["--prompt", "mean"], "'mean'"),
        "zero prompt": (small + ["--prompt", "0"], "'0'"),
        "zero limit": (small + ["--limit", "0"], "'0'"),
        "text limit": (small + ["--limit", "ten"], "'ten'"),
        "infeasible job": (small[:4] + ["60"] + columns, "--drop-infeasible"),
        "save dir under file": (
            small + ["--save-schedules", str(plain_file / "out")],
            "--save-schedules",
        ),
        "save dir is file": (
            small + ["--save-schedules", str(plain_file)],
            "not a directory",
        ),
        "figure format": (small + ["--figure", str(tmp_path / "run.xyz")], ".xyz"),
        "figure folder": (
            small + ["--figure", str(tmp_path / "absent" / "run.png")],
            "absent",
        ),
        "no command": ([], "run,bench"),
    }


CASE_NAMES = [
    "unknown trace",
    "missing file",
    "bad column",
    "zero budget",
    "negative budget",
    "text budget",
    "no budget",
    "unknown algorithm",
    "empty algorithms",
    "bad prompt word",
    "zero prompt",
    "zero limit",
    "text limit",
    "infeasible job",
    "save dir under file",
    "save dir is file",
    "figure format",
    "figure folder",
    "no command",
]


@pytest.mark.parametrize("case", CASE_NAMES)
def test_bad_input_one_line(capsys, tmp_path, small_csv, case):
    argv, named = bad_input_cases(tmp_path, small_csv)[case]
    status, out, err = run_main(capsys, argv)
    assert status == 2
    assert out == ""
    assert len(err) == 1, err
    assert err[0].startswith("kvbook: error: ")
    assert named in err[0]


def test_bad_input_cases_listed(tmp_path, small_csv):
    assert sorted(bad_input_cases(tmp_path, small_csv)) == sorted(CASE_NAMES)


def test_infeasible_names_first_job(capsys, small_csv):
    argv = ["run", "--trace", str(small_csv), "--budget", "60"]
    argv += ["--prompt-column", "prompt_len", "--output-column", "output_len"]
    _, _, err = run_main(capsys, argv)
    assert "job 3 of" in err[0]
    assert "(s + o = 100 + 50)" in err[0]
    assert "at least 150" in err[0]


def test_infeasible_median_prompt(capsys, small_csv):
    argv = ["run", "--trace", str(small_csv), "--budget", "60", "--prompt", "median"]
    argv += ["--prompt-column", "prompt_len", "--output-column", "output_len"]
    status, _, err = run_main(capsys, argv)
    assert status == 2
    assert "(s + o = 20 + 50)" in err[0]


def test_no_job_fits(capsys, small_csv):
    argv = ["run", "--trace", str(small_csv), "--budget", "10", "--drop-infeasible"]
    argv += ["--prompt-column", "prompt_len", "--output-column", "output_len"]
    status, _, err = run_main(capsys, argv)
    assert status == 2
    assert len(err) == 1
    assert "at least 15" in err[0]


def test_missing_trace_offline(capsys, monkeypatch):
    def offline(*args, **kwargs):
        raise urllib.error.URLError("network is unreachable")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    status, _, err = run_main(capsys, ["run", "--trace", "azure-code", "--budget", "9"])
    assert status == 2
    assert len(err) == 1
    assert "KVBOOK_DATA_DIR" in err[0]


def test_real_bug_raises(capsys, small_csv, monkeypatch):
    def broken_run(name, instance):
        raise RuntimeError("simulated bug")

    monkeypatch.setattr(cli, "run", broken_run)
    argv = ["run", "--trace", str(small_csv), "--budget", "200", "--algorithms", "sps"]
    argv += ["--prompt-column", "prompt_len", "--output-column", "output_len"]
    with pytest.raises(RuntimeError, match="simulated bug"):
        cli.main(argv)


def test_version(capsys):
    status, out, _ = run_main(capsys, ["--version"])
    assert status == 0
    assert out == f"kvbook {kvbook.__version__}\n"


def test_bench_missing(capsys, monkeypatch):
    # None in sys.modules makes the import fail as if the module did not exist.
    monkeypatch.setitem(sys.modules, "kvbook.bench", None)
    status, out, err = run_main(capsys, ["bench"])
    assert status == 2
    assert out == ""
    assert err == ["kvbook: error: bench is not available in this build"]


def test_bench_dispatch(capsys, monkeypatch):
    calls = []
    bench = types.ModuleType("kvbook.bench")

    def add_arguments(parser):
        parser.add_argument("--repeat", type=int, default=1)

    def run_command(args):
        calls.append(args.repeat)
        return 0

    bench.add_arguments = add_arguments
    bench.run_command = run_command
    monkeypatch.setitem(sys.modules, "kvbook.bench", bench)
    status, _, _ = run_main(capsys, ["bench", "--repeat", "3"])
    assert status == 0
    assert calls == [3]


def test_bench_status_passed_through(capsys, monkeypatch):
    bench = types.ModuleType("kvbook.bench")
    bench.add_arguments = lambda parser: None
    bench.run_command = lambda args: 1
    monkeypatch.setitem(sys.modules, "kvbook.bench", bench)
    status, _, _ = run_main(capsys, ["bench"])
    assert status == 1


def test_bench_broken_dependency_raises(capsys, monkeypatch):
    def import_module(name):
        raise ModuleNotFoundError(
            "No module named 'missing_dependency'", name="missing_dependency"
        )

    fake_importlib = types.SimpleNamespace(import_module=import_module)
    monkeypatch.setattr(cli, "importlib", fake_importlib)
    with pytest.raises(ModuleNotFoundError, match="missing_dependency"):
        cli.main(["bench"])


def test_run_skips_bench_import(capsys, small_csv, monkeypatch):
    def import_module(name):
        raise AssertionError(f"kvbook run imported {name}")

    fake_importlib = types.SimpleNamespace(import_module=import_module)
    monkeypatch.setattr(cli, "importlib", fake_importlib)
    argv = ["run", "--trace", str(small_csv), "--budget", "200", "--algorithms", "gsa"]
    argv += ["--prompt-column", "prompt_len", "--output-column", "output_len"]
    status, _, _ = run_main(capsys, argv)
    assert status == 0


def test_module_help_subprocess():
    result = subprocess.run(
        [sys.executable, "-m", "kvbook", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "run" in result.stdout
    assert "bench" in result.stdout
    assert result.stdout.startswith("usage: kvbook")
