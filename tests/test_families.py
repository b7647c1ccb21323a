"""Tests for kvbook.families: generators, FAMILIES, Azure wrapper and JSON files."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kvbook.families import (
    FAMILIES,
    azure,
    bimodal,
    heavy_tailed,
    identical,
    load_instance_json,
    save_instance_json,
    uniform,
)
from kvbook.model import make_instance

SHARED_AZURE = Path(__file__).resolve().parents[2] / "shared/data/azure-llm-2023"

RANDOM_FAMILIES = ["uniform", "pareto", "lognormal", "bimodal"]


# --- FAMILIES ------------------------------------------------------------------


def test_families_names():
    expected = ["bimodal", "identical", "lognormal", "pareto", "uniform"]
    assert sorted(FAMILIES) == expected


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_family_same_seed_same_instance(family):
    first = FAMILIES[family](200, 4096, 7)
    second = FAMILIES[family](200, 4096, 7)
    assert np.array_equal(first.output, second.output)
    assert np.array_equal(first.prompt, second.prompt)
    assert first.name == second.name


@pytest.mark.parametrize("family", RANDOM_FAMILIES)
def test_family_seed_changes_instance(family):
    first = FAMILIES[family](200, 4096, 7)
    second = FAMILIES[family](200, 4096, 8)
    assert not np.array_equal(first.output, second.output)


@pytest.mark.parametrize("family", sorted(FAMILIES))
@pytest.mark.parametrize("budget", [2, 3, 17, 100, 4096, 16384])
@pytest.mark.parametrize("n", [1, 7, 300])
def test_family_feasible(family, budget, n):
    instance = FAMILIES[family](n, budget, 0)
    assert instance.n == n
    assert instance.budget == budget
    assert instance.uniform_prompt
    assert int((instance.prompt + instance.output).max()) <= budget
    assert int(instance.output.min()) >= 1


@settings(max_examples=60, deadline=None)
@given(
    family=st.sampled_from(sorted(FAMILIES)),
    n=st.integers(1, 60),
    budget=st.integers(2, 50_000),
    seed=st.integers(0, 2**32 - 1),
)
def test_family_feasible_property(family, n, budget, seed):
    instance = FAMILIES[family](n, budget, seed)
    assert instance.n == n
    assert int((instance.prompt + instance.output).max()) <= budget


# --- identical -----------------------------------------------------------------


def test_identical_values():
    instance = identical(3, 2, 3, 12)
    assert instance.output.tolist() == [3, 3, 3]
    assert instance.prompt.tolist() == [2, 2, 2]
    assert instance.budget == 12


def test_identical_tight_fit():
    assert identical(1, 4, 6, 10).output.tolist() == [6]


def test_identical_too_long():
    with pytest.raises(ValueError, match="lower o to at most 8"):
        identical(3, 2, 9, 10)


# --- uniform -------------------------------------------------------------------


def test_uniform_bounds():
    instance = uniform(2000, 4, 3, 9, 64, seed=1)
    assert int(instance.output.min()) == 3
    assert int(instance.output.max()) == 9
    assert instance.prompt.tolist() == [4] * 2000


def test_uniform_single_value():
    assert uniform(5, 1, 4, 4, 8, seed=0).output.tolist() == [4] * 5


def test_uniform_low_above_high():
    with pytest.raises(ValueError, match="low = 5 is above high = 4"):
        uniform(3, 1, 5, 4, 100, seed=0)


def test_uniform_high_too_long():
    with pytest.raises(ValueError, match="lower high to at most 90"):
        uniform(3, 10, 1, 95, 100, seed=0)


@pytest.mark.parametrize("low", [0, -1])
def test_uniform_low_not_positive(low):
    with pytest.raises(ValueError, match="low must be at least 1"):
        uniform(3, 1, low, 4, 100, seed=0)


# --- heavy_tailed --------------------------------------------------------------


def test_pareto_minimum_is_scale():
    instance = heavy_tailed(5000, 16, 100_000, seed=3, scale=8)
    assert int(instance.output.min()) >= 8


def test_pareto_clipped_to_room():
    instance = heavy_tailed(5000, 16, 128, seed=3, kind="pareto", shape=0.5)
    assert int(instance.output.max()) == 128 - 16


def test_lognormal_clipped_and_positive():
    instance = heavy_tailed(
        5000, 8, 64, seed=3, kind="lognormal", shape=3.0, scale=2.0
    )
    assert int(instance.output.max()) == 64 - 8
    assert int(instance.output.min()) == 1


def test_lognormal_median_near_scale():
    instance = heavy_tailed(
        20_000, 1, 10**6, seed=5, kind="lognormal", shape=1.0, scale=100.0
    )
    # Rounding up moves the median by less than a token, and the rest of the
    # margin allows for sampling error.
    assert abs(float(np.median(instance.output)) - 100.0) < 5.0


def test_pareto_tail_is_heavy():
    pareto = heavy_tailed(20_000, 1, 10**7, seed=2, kind="pareto", shape=1.1)
    assert int(pareto.output.max()) > 100 * int(np.median(pareto.output))


@pytest.mark.parametrize("kind", ["normal", "Pareto", ""])
def test_heavy_tailed_unknown_kind(kind):
    with pytest.raises(ValueError, match="kind must be 'pareto' or 'lognormal'"):
        heavy_tailed(5, 1, 100, seed=0, kind=kind)


@pytest.mark.parametrize("value", [0, -1.0, math.inf, math.nan, "2", True])
def test_heavy_tailed_invalid_shape(value):
    with pytest.raises(ValueError, match="shape must be a positive finite number"):
        heavy_tailed(5, 1, 100, seed=0, shape=value)


def test_heavy_tailed_invalid_scale():
    with pytest.raises(ValueError, match="scale must be a positive finite number"):
        heavy_tailed(5, 1, 100, seed=0, kind="lognormal", scale=0)


# --- bimodal -------------------------------------------------------------------


def test_bimodal_counts():
    instance = bimodal(100, 4, 512, seed=0, short=3, long=200, long_fraction=0.1)
    assert int(np.count_nonzero(instance.output == 200)) == 10
    assert int(np.count_nonzero(instance.output == 3)) == 90


def test_bimodal_long_first():
    instance = bimodal(
        10, 2, 64, seed=None, short=1, long=50, long_fraction=0.3, long_first=True
    )
    assert instance.output.tolist() == [50, 50, 50, 1, 1, 1, 1, 1, 1, 1]


def test_bimodal_positions_depend_on_seed():
    first = bimodal(200, 2, 64, seed=0, short=1, long=50)
    second = bimodal(200, 2, 64, seed=1, short=1, long=50)
    assert not np.array_equal(first.output, second.output)


@pytest.mark.parametrize("fraction, count", [(0.0, 0), (1.0, 20), (0.5, 10)])
def test_bimodal_fraction_extremes(fraction, count):
    instance = bimodal(20, 2, 64, seed=0, short=1, long=50, long_fraction=fraction)
    assert int(np.count_nonzero(instance.output == 50)) == count


def test_bimodal_short_above_long():
    with pytest.raises(ValueError, match="short = 9 is above long = 8"):
        bimodal(5, 1, 100, seed=0, short=9, long=8)


def test_bimodal_long_too_long():
    with pytest.raises(ValueError, match="lower long to at most 99"):
        bimodal(5, 1, 100, seed=0, long=100)


@pytest.mark.parametrize("fraction", [-0.1, 1.5, "half", None, math.nan])
def test_bimodal_invalid_fraction(fraction):
    with pytest.raises(ValueError, match="long_fraction must be a number"):
        bimodal(5, 1, 1000, seed=0, long_fraction=fraction)


# --- arguments shared by every generator -----------------------------------------


GENERATORS = {
    "identical": lambda n, s, budget: identical(n, s, 1, budget),
    "uniform": lambda n, s, budget: uniform(n, s, 1, 1, budget, seed=0),
    "heavy_tailed": lambda n, s, budget: heavy_tailed(n, s, budget, seed=0),
    "bimodal": lambda n, s, budget: bimodal(n, s, budget, seed=0, short=1, long=1),
}


@pytest.mark.parametrize("generator", sorted(GENERATORS))
@pytest.mark.parametrize("n", [0, -2, 1.5, True, "3"])
def test_invalid_n(generator, n):
    with pytest.raises(ValueError, match="^n must be"):
        GENERATORS[generator](n, 1, 10)


@pytest.mark.parametrize("generator", sorted(GENERATORS))
def test_prompt_fills_budget(generator):
    with pytest.raises(ValueError, match="leaves no room for output"):
        GENERATORS[generator](3, 10, 10)


@pytest.mark.parametrize("generator", sorted(GENERATORS))
@pytest.mark.parametrize("budget", [1, 0, 2.0])
def test_invalid_budget(generator, budget):
    with pytest.raises(ValueError, match="^budget must be"):
        GENERATORS[generator](3, 1, budget)


# --- azure -------------------------------------------------------------------


@pytest.fixture
def tiny_trace(tmp_path) -> Path:
    path = tmp_path / "tiny.csv"
    path.write_bytes(b"ContextTokens,GeneratedTokens\r\n10,5\r\n90,20\r\n20,6")
    return path


def test_azure_drops_infeasible(tiny_trace):
    instance = azure(str(tiny_trace), 100)
    assert instance.output.tolist() == [5, 6]
    assert instance.prompt.tolist() == [10, 20]
    assert "1 jobs with s + o > M dropped" in instance.name


def test_azure_keeps_infeasible_raises(tiny_trace):
    with pytest.raises(ValueError, match="job 1 needs 110 tokens"):
        azure(str(tiny_trace), 100, drop_infeasible=False)


def test_azure_median_prompt(tiny_trace):
    instance = azure(str(tiny_trace), 200, prompt="median")
    assert instance.prompt.tolist() == [20, 20, 20]
    assert "dropped" not in instance.name


def test_azure_limit(tiny_trace):
    assert azure(str(tiny_trace), 200, limit=2).n == 2


def test_azure_shared_conv(monkeypatch, tmp_path):
    if not (SHARED_AZURE / "AzureLLMInferenceTrace_conv.csv").is_file():
        pytest.skip(f"shared Azure traces not found in {SHARED_AZURE}")
    monkeypatch.setenv("KVBOOK_DATA_DIR", str(SHARED_AZURE))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    instance = azure("azure-conv", 16384, limit=500)
    assert instance.n == 500
    assert instance.output[0] == 44
    assert instance.prompt[0] == 374


# --- JSON files ----------------------------------------------------------------


def test_json_round_trip(tmp_path):
    original = make_instance([3, 1, 4], [2, 7, 1], 20, name="found by search")
    path = save_instance_json(original, tmp_path / "case.json")
    loaded = load_instance_json(path)
    assert loaded.output.tolist() == [3, 1, 4]
    assert loaded.prompt.tolist() == [2, 7, 1]
    assert loaded.budget == 20
    assert loaded.name == "found by search"


def test_json_schema(tmp_path):
    path = save_instance_json(identical(2, 1, 3, 5), tmp_path / "case.json")
    record = json.loads(path.read_text())
    assert sorted(record) == ["budget", "name", "output", "prompt"]
    assert record["prompt"] == [1, 1]
    assert record["output"] == [3, 3]
    assert path.read_text().endswith("}\n")


def test_json_scalar_prompt_and_default_name(tmp_path):
    path = tmp_path / "worked-example.json"
    path.write_text('{"budget": 12, "prompt": 2, "output": [3, 3, 3], "note": "x"}')
    loaded = load_instance_json(path)
    assert loaded.prompt.tolist() == [2, 2, 2]
    assert loaded.name == "worked-example"


@pytest.mark.parametrize(
    "text, message",
    [
        ('{"budget": 12, "prompt": 2', "invalid JSON"),
        ("[1, 2]", "expected a JSON object"),
        ('{"budget": 12, "output": [3]}', "missing key 'prompt'"),
        ('{"budget": "12", "prompt": 2, "output": [3]}', "'budget' must be"),
        ('{"budget": 12, "prompt": 2, "output": [3], "name": 5}', "'name' must"),
        ('{"budget": 12, "prompt": 2, "output": [3, 11]}', "job 1 needs 13"),
        ('{"budget": 12, "prompt": [2, 2], "output": [3]}', "prompt has 2"),
    ],
)
def test_json_invalid(tmp_path, text, message):
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(ValueError) as error:
        load_instance_json(path)
    assert str(path) in str(error.value)
    assert message in str(error.value)


def test_json_save_rejects_non_instance(tmp_path):
    with pytest.raises(ValueError, match="must be a kvbook Instance"):
        save_instance_json({"budget": 3}, tmp_path / "x.json")
