"""Tests for kvbook.traces: file parsing, locating the Azure traces, instances."""

from __future__ import annotations

import hashlib
import http.client
import io
import os
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from kvbook import traces
from kvbook.traces import (
    TraceData,
    TraceFile,
    cache_dir,
    load_trace,
    locate_trace,
    trace_instance,
)

SHARED_AZURE = Path(__file__).resolve().parents[2] / "shared/data/azure-llm-2023"

TINY_CSV = b"TIMESTAMP,ContextTokens,GeneratedTokens\r\nt0,374,44\r\nt1,396,109"


@pytest.fixture(autouse=True)
def isolated(monkeypatch, tmp_path):
    """Point the cache at tmp_path, unset the data dir, and forbid the network."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("KVBOOK_DATA_DIR", raising=False)
    monkeypatch.setattr(traces, "_VERIFIED", set())

    def no_network(*args, **kwargs):
        raise AssertionError("a test tried to open a URL; mock urlopen instead")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)


@pytest.fixture
def shared_azure(monkeypatch):
    if not (SHARED_AZURE / "AzureLLMInferenceTrace_conv.csv").is_file():
        pytest.skip(f"shared Azure traces not found in {SHARED_AZURE}")
    monkeypatch.setenv("KVBOOK_DATA_DIR", str(SHARED_AZURE))


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def tiny_known(monkeypatch, data: bytes, sha256: str | None = None) -> TraceFile:
    """Replace the azure-conv entry by a two-request file with ``data``'s sum."""
    known = TraceFile(
        "AzureLLMInferenceTrace_conv.csv",
        sha256 or hashlib.sha256(data).hexdigest(),
        2,
    )
    monkeypatch.setitem(traces.KNOWN_TRACES, "azure-conv", known)
    return known


class FakeResponse(io.BytesIO):
    """Stand-in for the object urlopen returns: a readable context manager."""


# --- the shared Azure files -------------------------------------------------


def test_azure_conv_count(shared_azure):
    trace = load_trace("azure-conv")
    assert trace.n == 19_366
    assert trace.prompt.shape == (19_366,)
    assert trace.source == "azure-conv"


def test_azure_conv_first_row(shared_azure):
    trace = load_trace("azure-conv")
    assert trace.prompt[0] == 374
    assert trace.output[0] == 44


def test_azure_code_count(shared_azure):
    trace = load_trace("azure-code")
    assert trace.n == 8_819
    assert trace.output.shape == (8_819,)


def test_azure_code_first_row(shared_azure):
    trace = load_trace("azure-code")
    assert trace.prompt[0] == 4808
    assert trace.output[0] == 10


def test_azure_dtypes_and_positive(shared_azure):
    trace = load_trace("azure-code")
    assert trace.prompt.dtype == np.int64
    assert trace.output.dtype == np.int64
    assert trace.prompt.min() >= 1
    assert trace.output.min() >= 1


def test_azure_limit(shared_azure):
    trace = load_trace("azure-conv", limit=3)
    assert trace.prompt.tolist() == [374, 396, 879]
    assert trace.output.tolist() == [44, 109, 55]


def test_azure_checksum_once(shared_azure, monkeypatch):
    calls = []
    real = traces._sha256

    def counting_sha256(path):
        calls.append(path)
        return real(path)

    monkeypatch.setattr(traces, "_sha256", counting_sha256)
    load_trace("azure-code", limit=1)
    load_trace("azure-code", limit=1)
    assert len(calls) == 1


# --- small files -------------------------------------------------------------


def test_csv_crlf_no_final_newline(tmp_path):
    path = write(tmp_path, "t.csv", TINY_CSV)
    trace = load_trace(path)
    assert trace.prompt.tolist() == [374, 396]
    assert trace.output.tolist() == [44, 109]
    assert trace.source == str(path)


def test_csv_lf_and_blank_lines(tmp_path):
    data = b"ContextTokens,GeneratedTokens\n\n5,6\n\n7,8\n\n"
    trace = load_trace(write(tmp_path, "t.csv", data))
    assert trace.prompt.tolist() == [5, 7]
    assert trace.output.tolist() == [6, 8]


def test_csv_byte_order_mark(tmp_path):
    data = b"\xef\xbb\xbfContextTokens,GeneratedTokens\n5,6\n"
    trace = load_trace(write(tmp_path, "t.csv", data))
    assert trace.prompt.tolist() == [5]


def test_csv_path_as_string(tmp_path):
    path = write(tmp_path, "t.csv", TINY_CSV)
    assert load_trace(str(path)).n == 2


def test_csv_limit(tmp_path):
    trace = load_trace(write(tmp_path, "t.csv", TINY_CSV), limit=1)
    assert trace.prompt.tolist() == [374]


def test_csv_limit_above_count(tmp_path):
    trace = load_trace(write(tmp_path, "t.csv", TINY_CSV), limit=10)
    assert trace.n == 2


def test_csv_custom_columns(tmp_path):
    data = b"id,prompt_len,output_len\n0,10,3\n1,20,4\n"
    trace = load_trace(
        write(tmp_path, "t.csv", data),
        prompt_column="prompt_len",
        output_column="output_len",
    )
    assert trace.prompt.tolist() == [10, 20]
    assert trace.output.tolist() == [3, 4]


def test_jsonl_reads_objects(tmp_path):
    data = (
        b'{"ContextTokens": 374, "GeneratedTokens": 44}\r\n'
        b"\n"
        b'{"GeneratedTokens": 109, "ContextTokens": 396, "extra": "x"}'
    )
    trace = load_trace(write(tmp_path, "t.jsonl", data))
    assert trace.prompt.tolist() == [374, 396]
    assert trace.output.tolist() == [44, 109]


def test_jsonl_custom_columns(tmp_path):
    data = b'{"s": 3, "o": 4}\n{"s": 5, "o": 6}\n'
    trace = load_trace(
        write(tmp_path, "t.jsonl", data), prompt_column="s", output_column="o"
    )
    assert trace.prompt.tolist() == [3, 5]
    assert trace.output.tolist() == [4, 6]


def test_jsonl_limit(tmp_path):
    data = b'{"s": 3, "o": 4}\n{"s": 5, "o": 6}\n'
    trace = load_trace(
        write(tmp_path, "t.jsonl", data),
        prompt_column="s",
        output_column="o",
        limit=1,
    )
    assert trace.output.tolist() == [4]


def test_extension_case_insensitive(tmp_path):
    assert load_trace(write(tmp_path, "T.CSV", TINY_CSV)).n == 2


# --- errors in files ---------------------------------------------------------


def test_csv_missing_column_lists_found(tmp_path):
    path = write(tmp_path, "t.csv", b"a,GeneratedTokens\n1,2\n")
    with pytest.raises(ValueError) as error:
        load_trace(path)
    message = str(error.value)
    assert str(path) in message
    assert "line 1" in message
    assert "'ContextTokens'" in message
    assert "'a', 'GeneratedTokens'" in message
    assert "prompt_column=" in message


def test_jsonl_missing_key_lists_found(tmp_path):
    path = write(tmp_path, "t.jsonl", b'{"ContextTokens": 1, "G": 2}\n')
    with pytest.raises(ValueError) as error:
        load_trace(path)
    message = str(error.value)
    assert "line 1" in message
    assert "'GeneratedTokens'" in message
    assert "'ContextTokens', 'G'" in message


@pytest.mark.parametrize("value", [b"1.5", b"abc", b"", b"1e3"])
def test_csv_non_integer(tmp_path, value):
    data = b"ContextTokens,GeneratedTokens\r\n3,4\r\n5," + value
    path = write(tmp_path, "t.csv", data)
    with pytest.raises(ValueError) as error:
        load_trace(path)
    message = str(error.value)
    assert str(path) in message
    assert "line 3" in message
    assert "'GeneratedTokens'" in message
    assert "not an integer" in message


@pytest.mark.parametrize("value", [b"0", b"-4"])
def test_csv_non_positive(tmp_path, value):
    data = b"ContextTokens,GeneratedTokens\n" + value + b",4\n"
    path = write(tmp_path, "t.csv", data)
    with pytest.raises(ValueError) as error:
        load_trace(path)
    message = str(error.value)
    assert "line 2" in message
    assert "'ContextTokens'" in message
    assert "not positive" in message


def test_csv_too_large(tmp_path):
    path = write(tmp_path, "t.csv", b"ContextTokens,GeneratedTokens\n3," + b"9" * 30)
    with pytest.raises(ValueError, match="line 2.*int64"):
        load_trace(path)


@pytest.mark.parametrize("value", [b"1.5", b"true", b'"3"', b"null", b"0"])
def test_jsonl_invalid_value(tmp_path, value):
    data = b'{"ContextTokens": 3, "GeneratedTokens": 4}\n\n'
    data += b'{"ContextTokens": 3, "GeneratedTokens": ' + value + b"}\n"
    path = write(tmp_path, "t.jsonl", data)
    with pytest.raises(ValueError) as error:
        load_trace(path)
    message = str(error.value)
    assert "line 3" in message
    assert "'GeneratedTokens'" in message


def test_jsonl_invalid_json(tmp_path):
    path = write(tmp_path, "t.jsonl", b'{"ContextTokens": 3,\n')
    with pytest.raises(ValueError, match="line 1: invalid JSON"):
        load_trace(path)


def test_jsonl_not_object(tmp_path):
    path = write(tmp_path, "t.jsonl", b"[3, 4]\n")
    with pytest.raises(ValueError, match="line 1: expected a JSON object"):
        load_trace(path)


def test_csv_wrong_field_count(tmp_path):
    path = write(tmp_path, "t.csv", b"ContextTokens,GeneratedTokens\n3,4\n5\n")
    with pytest.raises(ValueError, match="line 3: 1 fields but the header has 2"):
        load_trace(path)


@pytest.mark.parametrize(
    "name, data",
    [
        ("t.csv", b""),
        ("t.csv", b"\r\n\r\n"),
        ("t.csv", b"ContextTokens,GeneratedTokens\r\n"),
        ("t.jsonl", b""),
        ("t.jsonl", b"\n  \n"),
    ],
)
def test_empty_file(tmp_path, name, data):
    path = write(tmp_path, name, data)
    with pytest.raises(ValueError) as error:
        load_trace(path)
    message = str(error.value)
    assert str(path) in message
    assert "empty" in message


def test_unknown_extension(tmp_path):
    path = write(tmp_path, "t.tsv", TINY_CSV)
    with pytest.raises(ValueError) as error:
        load_trace(path)
    message = str(error.value)
    assert "unknown extension '.tsv'" in message
    assert ".csv or .jsonl" in message


def test_unknown_trace_name():
    with pytest.raises(ValueError) as error:
        load_trace("azure-chat")
    message = str(error.value)
    assert "unknown trace name 'azure-chat'" in message
    assert "azure-code, azure-conv" in message


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_trace(tmp_path / "absent.csv")


@pytest.mark.parametrize("limit", [0, -1, 1.5, True, "3"])
def test_invalid_limit(tmp_path, limit):
    path = write(tmp_path, "t.csv", TINY_CSV)
    with pytest.raises(ValueError, match="limit"):
        load_trace(path, limit=limit)


# --- locating and downloading -------------------------------------------------


def test_cache_dir_xdg(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "kvbook"


def test_cache_dir_home(monkeypatch, tmp_path):
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert cache_dir() == tmp_path / ".cache" / "kvbook"


def test_offline_message(monkeypatch, tmp_path):
    def offline(url, timeout=None):
        raise urllib.error.URLError("Temporary failure in name resolution")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    monkeypatch.setenv("KVBOOK_DATA_DIR", str(data_dir))
    with pytest.raises(FileNotFoundError) as error:
        load_trace("azure-code")
    message = str(error.value)
    assert "AzureLLMInferenceTrace_code.csv" in message
    assert f"KVBOOK_DATA_DIR={data_dir}" in message
    assert str(tmp_path / "cache" / "kvbook") in message
    assert "name resolution" in message
    assert "Put the file in the directory named by KVBOOK_DATA_DIR" in message


def test_offline_no_data_dir(monkeypatch, tmp_path):
    def offline(url, timeout=None):
        raise urllib.error.URLError("offline")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    with pytest.raises(FileNotFoundError, match=r"KVBOOK_DATA_DIR \(not set\)"):
        locate_trace("azure-conv")


def test_offline_leaves_no_file(monkeypatch, tmp_path):
    def offline(url, timeout=None):
        raise urllib.error.URLError("offline")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    with pytest.raises(FileNotFoundError):
        locate_trace("azure-conv")
    leftovers = list((tmp_path / "cache").rglob("*"))
    assert [p for p in leftovers if p.is_file()] == []


def test_download_interrupted(monkeypatch, tmp_path):
    tiny_known(monkeypatch, TINY_CSV)

    class CutResponse(FakeResponse):
        def read(self, size=-1):
            raise http.client.IncompleteRead(b"TIMESTAMP", 40)

    monkeypatch.setattr(
        urllib.request, "urlopen", lambda url, timeout=None: CutResponse(b"")
    )
    with pytest.raises(FileNotFoundError, match="IncompleteRead|bytes read"):
        locate_trace("azure-conv")
    assert list((tmp_path / "cache" / "kvbook").iterdir()) == []


def test_download_success(monkeypatch, tmp_path):
    known = tiny_known(monkeypatch, TINY_CSV)
    requests = []

    def serve(url, timeout=None):
        requests.append((url, timeout))
        return FakeResponse(TINY_CSV)

    monkeypatch.setattr(urllib.request, "urlopen", serve)
    trace = load_trace("azure-conv")
    assert trace.prompt.tolist() == [374, 396]
    assert trace.output.tolist() == [44, 109]
    assert requests[0][0] == known.url
    assert requests[0][1] is not None
    cached = tmp_path / "cache" / "kvbook" / known.file_name
    assert cached.read_bytes() == TINY_CSV
    assert sorted(p.name for p in cached.parent.iterdir()) == [known.file_name]


def test_download_url(monkeypatch):
    known = tiny_known(monkeypatch, TINY_CSV)
    assert known.url == (
        "https://raw.githubusercontent.com/Azure/AzurePublicDataset/master/data/"
        "AzureLLMInferenceTrace_conv.csv"
    )


def test_download_then_cached(monkeypatch):
    tiny_known(monkeypatch, TINY_CSV)
    responses = [FakeResponse(TINY_CSV)]
    monkeypatch.setattr(
        urllib.request, "urlopen", lambda url, timeout=None: responses.pop()
    )
    first = locate_trace("azure-conv")
    second = locate_trace("azure-conv")
    assert second == first
    assert responses == []


def test_download_checksum_mismatch(monkeypatch, tmp_path):
    tiny_known(monkeypatch, TINY_CSV, sha256="0" * 64)
    monkeypatch.setattr(
        urllib.request, "urlopen", lambda url, timeout=None: FakeResponse(TINY_CSV)
    )
    with pytest.raises(ValueError) as error:
        load_trace("azure-conv")
    message = str(error.value)
    assert "SHA-256" in message
    assert "deleted" in message
    cache = tmp_path / "cache" / "kvbook"
    assert list(cache.iterdir()) == []


def test_data_dir_preferred(monkeypatch, tmp_path):
    tiny_known(monkeypatch, TINY_CSV)
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    path = write(data_dir, "AzureLLMInferenceTrace_conv.csv", TINY_CSV)
    monkeypatch.setenv("KVBOOK_DATA_DIR", str(data_dir))
    assert locate_trace("azure-conv") == path


def test_data_dir_checksum_mismatch(monkeypatch, tmp_path):
    tiny_known(monkeypatch, TINY_CSV)
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    path = write(data_dir, "AzureLLMInferenceTrace_conv.csv", TINY_CSV + b"\r\n")
    monkeypatch.setenv("KVBOOK_DATA_DIR", str(data_dir))
    with pytest.raises(ValueError) as error:
        locate_trace("azure-conv")
    message = str(error.value)
    assert str(path) in message
    assert "SHA-256" in message
    assert path.exists()


def test_cache_checksum_mismatch(monkeypatch, tmp_path):
    tiny_known(monkeypatch, TINY_CSV)
    cache = tmp_path / "cache" / "kvbook"
    cache.mkdir(parents=True)
    write(cache, "AzureLLMInferenceTrace_conv.csv", b"truncated")
    with pytest.raises(ValueError, match="Delete it"):
        locate_trace("azure-conv")


def test_locate_unknown_name():
    with pytest.raises(ValueError, match="unknown trace name 'nope'"):
        locate_trace("nope")


# --- instances -----------------------------------------------------------------


def sample_trace() -> TraceData:
    return TraceData(
        prompt=np.array([10, 20, 30, 41], dtype=np.int64),
        output=np.array([5, 6, 7, 8], dtype=np.int64),
        source="sample",
    )


def test_instance_trace_prompts():
    instance, dropped = trace_instance(sample_trace(), 100)
    assert instance.prompt.tolist() == [10, 20, 30, 41]
    assert instance.output.tolist() == [5, 6, 7, 8]
    assert instance.budget == 100
    assert instance.name == "sample"
    assert dropped == 0


def test_instance_median_rounds_half_up():
    # The median of 2 and 3 is 2.5; rounding half to even would give 2.
    trace = TraceData(np.array([2, 3]), np.array([1, 1]), "two")
    instance, _ = trace_instance(trace, 10, prompt="median")
    assert instance.prompt.tolist() == [3, 3]


def test_instance_median_whole():
    instance, _ = trace_instance(sample_trace(), 100, prompt="median")
    assert instance.prompt.tolist() == [25, 25, 25, 25]


def test_instance_given_prompt():
    instance, _ = trace_instance(sample_trace(), 100, prompt=7)
    assert instance.prompt.tolist() == [7, 7, 7, 7]
    assert instance.uniform_prompt


def test_instance_infeasible_names_job():
    with pytest.raises(ValueError, match="job 3 needs 49 tokens"):
        trace_instance(sample_trace(), 45)


def test_instance_drop_infeasible():
    instance, dropped = trace_instance(sample_trace(), 45, drop_infeasible=True)
    assert dropped == 1
    assert instance.prompt.tolist() == [10, 20, 30]
    assert instance.output.tolist() == [5, 6, 7]


def test_instance_drop_with_median():
    # Median prompt 25: peaks are 30, 31, 32, 33, so a budget of 31 keeps two.
    instance, dropped = trace_instance(
        sample_trace(), 31, prompt="median", drop_infeasible=True
    )
    assert dropped == 2
    assert instance.output.tolist() == [5, 6]


def test_instance_drop_everything():
    with pytest.raises(ValueError, match="raise the budget to at least 15"):
        trace_instance(sample_trace(), 10, drop_infeasible=True)


@pytest.mark.parametrize("prompt", ["mean", 0, -3, 2.5, True])
def test_instance_invalid_prompt(prompt):
    with pytest.raises(ValueError, match="prompt"):
        trace_instance(sample_trace(), 100, prompt=prompt)


@pytest.mark.parametrize("budget", [0, -5, 2.5, "100", True])
def test_instance_invalid_budget(budget):
    with pytest.raises(ValueError, match="budget"):
        trace_instance(sample_trace(), budget, drop_infeasible=True)


def test_instance_rejects_non_trace():
    with pytest.raises(ValueError, match="TraceData"):
        trace_instance([1, 2, 3], 100)


def test_instance_from_shared_azure(shared_azure):
    instance, dropped = trace_instance(load_trace("azure-code"), 16384)
    assert instance.n == 8_819
    assert dropped == 0


def test_load_trace_rejects_fifo(tmp_path):
    # Opening a named pipe for reading would block until a writer appears.
    fifo = tmp_path / "requests.csv"
    os.mkfifo(fifo)
    with pytest.raises(ValueError, match="not a regular file"):
        load_trace(fifo)


def test_load_trace_rejects_directory(tmp_path):
    folder = tmp_path / "folder.csv"
    folder.mkdir()
    with pytest.raises(ValueError, match="not a regular file"):
        load_trace(folder)
