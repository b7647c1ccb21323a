"""Load real LLM inference traces and turn them into instances.

A trace is a list of requests, each with a prompt length (``s_i``) and an
output length (``o_i``) in tokens. :func:`load_trace` reads one from a CSV or
JSON Lines file, or from one of the two Azure LLM inference traces of 2023 by
name, and :func:`trace_instance` turns it into an :class:`~kvbook.model.Instance`
for a KV-cache budget.

The Azure traces
----------------
``"azure-conv"`` (conversation, 19,366 requests) and ``"azure-code"`` (code
completion, 8,819 requests) are the files ``AzureLLMInferenceTrace_conv.csv``
and ``AzureLLMInferenceTrace_code.csv`` of the AzurePublicDataset repository,
with columns ``TIMESTAMP,ContextTokens,GeneratedTokens``. They are published
under the Creative Commons Attribution 4.0 license and are not shipped with
kvbook. :func:`locate_trace` finds a file in this order:

1. the directory named by the environment variable ``KVBOOK_DATA_DIR``;
2. the user cache directory, ``$XDG_CACHE_HOME/kvbook`` or, when
   ``XDG_CACHE_HOME`` is unset, ``~/.cache/kvbook``;
3. a download from the dataset's public URL into that cache directory.

Every file is checked against its published SHA-256 sum the first time a
process uses it. Each file is under 1 MB, so the check takes milliseconds.
The result is kept, keyed by path, size and modification time, until the
process exits.

References
----------
Patel et al., "Splitwise: Efficient generative LLM inference using phase
splitting", ISCA 2024. Azure LLM inference traces 2023,
https://github.com/Azure/AzurePublicDataset, CC-BY 4.0.
"""

from __future__ import annotations

import csv
import hashlib
import http.client
import json
import os
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kvbook.model import Instance, make_instance

__all__ = [
    "DATA_DIR_VARIABLE",
    "KNOWN_TRACES",
    "TraceData",
    "TraceFile",
    "cache_dir",
    "load_trace",
    "locate_trace",
    "trace_instance",
]

DATA_DIR_VARIABLE = "KVBOOK_DATA_DIR"

_BASE_URL = "https://raw.githubusercontent.com/Azure/AzurePublicDataset/master/data/"

# Seconds to wait for the server to connect or send the next block.
_DOWNLOAD_TIMEOUT = 60

_SUFFIXES = (".csv", ".jsonl")

# Largest token count read from a file. kvbook.model.make_instance rejects
# instances whose flow times could exceed 2**53, so no usable count is larger.
_MAX_TOKENS = 2**53


@dataclass(frozen=True)
class TraceFile:
    """A published trace file: its name, SHA-256 sum and request count.

    Attributes
    ----------
    file_name : str
        File name in the dataset and on disk.
    sha256 : str
        Hex SHA-256 sum of the published file.
    requests : int
        Number of requests (data rows) in the file.
    """

    file_name: str
    sha256: str
    requests: int

    @property
    def url(self) -> str:
        """Public download address of the file."""
        return _BASE_URL + self.file_name


KNOWN_TRACES: dict[str, TraceFile] = {
    "azure-conv": TraceFile(
        "AzureLLMInferenceTrace_conv.csv",
        "2f1e5b666d4e3055fdbba98598ce2ec307767b9064e03e2fa46676dbcc7d0bf8",
        19_366,
    ),
    "azure-code": TraceFile(
        "AzureLLMInferenceTrace_code.csv",
        "54e9a6d2a4bd06ba1e060304b900abbc74cbea53de96506e60fe5bb4f2277fb6",
        8_819,
    ),
}

# (resolved path, size, mtime_ns) of files whose checksum matched.
_VERIFIED: set[tuple[str, int, int]] = set()


@dataclass(frozen=True)
class TraceData:
    """Prompt and output lengths of the requests in a trace.

    Attributes
    ----------
    prompt : numpy.ndarray
        Prompt length ``s_i`` of each request, in tokens (int64).
    output : numpy.ndarray
        Output length ``o_i`` of each request, in tokens (int64).
    source : str
        The trace name (such as ``"azure-conv"``) or the path of the file read.
    """

    prompt: np.ndarray
    output: np.ndarray
    source: str

    @property
    def n(self) -> int:
        """Number of requests."""
        return int(self.output.shape[0])


def cache_dir() -> Path:
    """Return the user cache directory that downloaded traces go to.

    Returns
    -------
    pathlib.Path
        ``$XDG_CACHE_HOME/kvbook`` when ``XDG_CACHE_HOME`` is set to an
        absolute path, else ``~/.cache/kvbook``. The directory may not exist.
    """
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    if xdg and os.path.isabs(xdg):
        return Path(xdg) / "kvbook"
    return Path.home() / ".cache" / "kvbook"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _check_checksum(path: Path, known: TraceFile, fix: str) -> None:
    """Raise ValueError unless ``path`` has the published SHA-256 sum."""
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key in _VERIFIED:
        return
    actual = _sha256(path)
    if actual != known.sha256:
        raise ValueError(
            f"{path} has SHA-256 {actual}, but the published "
            f"{known.file_name} has {known.sha256}; the file is damaged or a "
            f"different version. {fix}"
        )
    _VERIFIED.add(key)


def _download(known: TraceFile, target: Path) -> None:
    """Download ``known`` to ``target`` through a temporary file.

    Raises OSError (including urllib.error.URLError) or
    http.client.HTTPException when the download fails, and ValueError when
    the checksum does not match. Neither case
    leaves a file behind.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    handle = tempfile.NamedTemporaryFile(
        dir=target.parent, prefix=target.name + ".", suffix=".part", delete=False
    )
    partial = Path(handle.name)
    try:
        digest = hashlib.sha256()
        with handle, urllib.request.urlopen(
            known.url, timeout=_DOWNLOAD_TIMEOUT
        ) as response:
            for block in iter(lambda: response.read(1 << 16), b""):
                digest.update(block)
                handle.write(block)
        actual = digest.hexdigest()
        if actual != known.sha256:
            raise ValueError(
                f"the download of {known.file_name} from {known.url} has SHA-256 "
                f"{actual}, but the published file has {known.sha256}; the file "
                f"was deleted. Retry later, or download it yourself into "
                f"{target.parent}"
            )
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)


def locate_trace(name: str) -> Path:
    """Find a known trace file on disk, downloading it if needed.

    Parameters
    ----------
    name : str
        A key of :data:`KNOWN_TRACES`: ``"azure-conv"`` or ``"azure-code"``.

    Returns
    -------
    pathlib.Path
        Path of a file whose SHA-256 sum matches the published one.

    Raises
    ------
    ValueError
        If ``name`` is not a known trace, or a file found or downloaded has
        the wrong checksum. A download with the wrong checksum is deleted.
    FileNotFoundError
        If the file is in neither directory and the download fails (for
        example offline). The message names the directories to put it in.

    Notes
    -----
    The search order is ``$KVBOOK_DATA_DIR``, then :func:`cache_dir`, then a
    download into :func:`cache_dir` with ``urllib.request`` (60 s timeout).
    """
    if name not in KNOWN_TRACES:
        raise ValueError(_unknown_name_message(name))
    known = KNOWN_TRACES[name]

    data_dir = os.environ.get(DATA_DIR_VARIABLE, "")
    if data_dir:
        candidate = Path(data_dir) / known.file_name
        if candidate.is_file():
            _check_checksum(
                candidate,
                known,
                f"Replace it with the file from {known.url}, or unset "
                f"{DATA_DIR_VARIABLE} to use the download cache.",
            )
            return candidate

    cached = cache_dir() / known.file_name
    if cached.is_file():
        _check_checksum(
            cached, known, "Delete it, and kvbook will download it again."
        )
        return cached

    try:
        _download(known, cached)
    except (OSError, http.client.HTTPException) as error:
        looked = (
            f"{DATA_DIR_VARIABLE}={data_dir}"
            if data_dir
            else f"{DATA_DIR_VARIABLE} (not set)"
        )
        raise FileNotFoundError(
            f"trace file {known.file_name} not found: looked in {looked} and in "
            f"the cache directory {cached.parent}, and the download from "
            f"{known.url} failed ({error}). Put the file in the directory named "
            f"by {DATA_DIR_VARIABLE} or in {cached.parent}, or connect to the "
            "network and retry."
        ) from error
    _VERIFIED.add(
        (str(cached.resolve()), cached.stat().st_size, cached.stat().st_mtime_ns)
    )
    return cached


def _unknown_name_message(name: str) -> str:
    known = ", ".join(sorted(KNOWN_TRACES))
    return (
        f"unknown trace name {name!r}; known names are {known}, or pass the "
        f"path of a {' or '.join(_SUFFIXES)} file"
    )


def _check_limit(limit) -> int | None:
    if limit is None:
        return None
    if isinstance(limit, (bool, np.bool_)) or not isinstance(
        limit, (int, np.integer)
    ):
        raise ValueError(
            f"limit must be a positive integer number of requests or None, got "
            f"{limit!r}"
        )
    if limit < 1:
        raise ValueError(
            f"limit must be at least 1 request, got {int(limit)}; pass None to "
            "keep every request"
        )
    return int(limit)


def _parse_count(text, path: Path, line: int, column: str) -> int:
    """Convert one field to a positive int, or raise ValueError naming it.

    ``text`` is a CSV field (str) or a JSON value, which must be a JSON
    integer: a JSON string such as ``"3"`` is rejected.
    """
    value = None
    if isinstance(text, str) and path.suffix.lower() == ".csv":
        try:
            value = int(text.strip())
        except ValueError:
            pass
    elif isinstance(text, int) and not isinstance(text, bool):
        value = text
    if value is None:
        raise ValueError(
            f"{path}, line {line}: column {column!r} is {text!r}, which is not an "
            "integer; token counts must be whole numbers, so fix or remove the "
            "request"
        )
    if value < 1:
        raise ValueError(
            f"{path}, line {line}: column {column!r} is {value}, which is not "
            "positive; token counts must be at least 1, so fix or remove the "
            "request"
        )
    if value > _MAX_TOKENS:
        raise ValueError(
            f"{path}, line {line}: column {column!r} is {value}, above the "
            f"limit of {_MAX_TOKENS} tokens for int64 arithmetic; fix or remove "
            "the request"
        )
    return value


def _missing_column(path: Path, line: int, column: str, found) -> ValueError:
    names = ", ".join(repr(str(name)) for name in found) or "none"
    return ValueError(
        f"{path}, line {line}: no column {column!r}; columns found: {names}. "
        "Pass prompt_column= and output_column= to name the columns to read"
    )


def _read_csv(path, prompt_column, output_column, limit):
    prompts: list[int] = []
    outputs: list[int] = []
    # With newline="" the csv module handles CRLF line endings itself, and
    # utf-8-sig drops a byte order mark before the header.
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        while header is not None and not any(field.strip() for field in header):
            header = next(reader, None)
        if header is None:
            raise ValueError(
                f"{path} is empty; a trace CSV needs a header line with the "
                f"columns {prompt_column!r} and {output_column!r}, then one "
                "line per request"
            )
        header_line = reader.line_num
        names = [field.strip() for field in header]
        for column in (prompt_column, output_column):
            if column not in names:
                raise _missing_column(path, header_line, column, names)
        prompt_index = names.index(prompt_column)
        output_index = names.index(output_column)
        for row in reader:
            if not any(field.strip() for field in row):
                continue
            line = reader.line_num
            if len(row) != len(names):
                raise ValueError(
                    f"{path}, line {line}: {len(row)} fields but the header has "
                    f"{len(names)}; give every request one field per column"
                )
            prompts.append(
                _parse_count(row[prompt_index], path, line, prompt_column)
            )
            outputs.append(
                _parse_count(row[output_index], path, line, output_column)
            )
            if limit is not None and len(outputs) == limit:
                break
    return prompts, outputs


def _read_jsonl(path, prompt_column, output_column, limit):
    prompts: list[int] = []
    outputs: list[int] = []
    with open(path, encoding="utf-8-sig") as handle:
        for line, text in enumerate(handle, start=1):
            if not text.strip():
                continue
            try:
                record = json.loads(text)
            except json.JSONDecodeError as error:
                raise ValueError(
                    f"{path}, line {line}: invalid JSON ({error.msg}); write one "
                    "JSON object per line"
                ) from error
            if not isinstance(record, dict):
                raise ValueError(
                    f"{path}, line {line}: expected a JSON object, got "
                    f"{type(record).__name__}; write one object per request, "
                    f'such as {{"{prompt_column}": 374, "{output_column}": 44}}'
                )
            for column in (prompt_column, output_column):
                if column not in record:
                    raise _missing_column(path, line, column, record)
            prompts.append(
                _parse_count(record[prompt_column], path, line, prompt_column)
            )
            outputs.append(
                _parse_count(record[output_column], path, line, output_column)
            )
            if limit is not None and len(outputs) == limit:
                break
    return prompts, outputs


def load_trace(
    name_or_path,
    *,
    prompt_column: str = "ContextTokens",
    output_column: str = "GeneratedTokens",
    limit: int | None = None,
) -> TraceData:
    """Read the prompt and output lengths of a trace's requests.

    Parameters
    ----------
    name_or_path : str or os.PathLike
        ``"azure-conv"`` or ``"azure-code"`` (found by :func:`locate_trace`),
        or the path of a ``.csv`` file with a header line or of a ``.jsonl``
        file with one JSON object per request. Blank lines are skipped; CSV
        files may use CRLF line endings and may lack a final newline.
    prompt_column, output_column : str, optional
        Column (CSV) or key (JSON Lines) holding the prompt and the output
        length in tokens. The defaults are the Azure trace columns.
    limit : int, optional
        Keep only the first ``limit`` requests, in file order.

    Returns
    -------
    TraceData
        The lengths in file order. ``source`` is the trace name, or the path
        as given.

    Raises
    ------
    ValueError
        If the name is unknown, the extension is neither ``.csv`` nor
        ``.jsonl``, the file has no requests, a column is missing, a value is
        not a positive integer, or ``limit`` is not a positive integer. The
        message names the file and line.
    FileNotFoundError
        If the file does not exist, or a known trace cannot be found or
        downloaded (see :func:`locate_trace`).

    Examples
    --------
    A CSV file with CRLF line endings and no final newline:

    >>> import pathlib, tempfile
    >>> text = b"ContextTokens,GeneratedTokens\\r\\n374,44\\r\\n396,109"
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = pathlib.Path(folder) / "tiny.csv"
    ...     _ = path.write_bytes(text)
    ...     trace = load_trace(path)
    >>> trace.prompt.tolist(), trace.output.tolist()
    ([374, 396], [44, 109])
    """
    limit = _check_limit(limit)
    if isinstance(name_or_path, str) and name_or_path in KNOWN_TRACES:
        path = locate_trace(name_or_path)
        source = name_or_path
    else:
        path = Path(name_or_path)
        source = str(name_or_path)
        suffix = path.suffix.lower()
        if suffix not in _SUFFIXES:
            if suffix == "" and not path.exists():
                raise ValueError(_unknown_name_message(str(name_or_path)))
            raise ValueError(
                f"{path}: unknown extension {suffix or '(none)'!r}; a trace file "
                f"must end in {' or '.join(_SUFFIXES)}, so rename or convert it"
            )

    if path.exists() and not path.is_file():
        # A folder fails on open; a pipe or device would block or never end.
        raise ValueError(
            f"{path} is not a regular file; pass the path of a CSV or JSONL file"
        )
    if path.suffix.lower() == ".jsonl":
        prompts, outputs = _read_jsonl(path, prompt_column, output_column, limit)
    else:
        prompts, outputs = _read_csv(path, prompt_column, output_column, limit)
    if not outputs:
        raise ValueError(
            f"{path} is empty: it has no requests; add at least one line with a "
            f"{prompt_column!r} and a {output_column!r} value"
        )
    return TraceData(
        prompt=np.array(prompts, dtype=np.int64),
        output=np.array(outputs, dtype=np.int64),
        source=source,
    )


def _check_budget(budget) -> int:
    if isinstance(budget, (bool, np.bool_)):
        budget = None
    elif isinstance(budget, (float, np.floating)) and float(budget).is_integer():
        budget = int(budget)
    if not isinstance(budget, (int, np.integer)) or budget < 1:
        raise ValueError(
            f"budget must be a positive integer number of tokens, got {budget!r}"
        )
    return int(budget)


def _prompt_lengths(trace: TraceData, prompt):
    """Return the prompt argument for make_instance: an array or one int."""
    if isinstance(prompt, str):
        if prompt == "trace":
            return trace.prompt
        if prompt == "median":
            # Round half up, so a median of 374.5 tokens becomes 375.
            return int(np.floor(np.median(trace.prompt) + 0.5))
    elif isinstance(prompt, (int, np.integer)) and not isinstance(
        prompt, (bool, np.bool_)
    ):
        if prompt < 1:
            raise ValueError(
                f"prompt must be at least 1 token, got {int(prompt)}"
            )
        return int(prompt)
    raise ValueError(
        f"prompt must be 'trace' (each request's own length), 'median' (one "
        f"length for all) or a positive integer, got {prompt!r}"
    )


def trace_instance(
    trace: TraceData,
    budget: int,
    *,
    prompt="trace",
    drop_infeasible: bool = False,
    name: str | None = None,
) -> tuple[Instance, int]:
    """Build an instance from a trace, one job per request.

    Parameters
    ----------
    trace : TraceData
        Output of :func:`load_trace`.
    budget : int
        KV-cache budget ``M`` in tokens.
    prompt : {"trace", "median"} or int, optional
        Prompt lengths of the jobs: each request's own ``s_i`` (``"trace"``),
        one ``s`` equal to the median prompt length rounded half up
        (``"median"``, the paper's setting), or one given ``s``.
    drop_infeasible : bool, optional
        Remove the jobs that cannot fit even alone (``s_i + o_i > M``)
        instead of raising.
    name : str, optional
        Label of the instance; defaults to ``trace.source``.

    Returns
    -------
    instance : Instance
        The jobs in trace order (after any removal).
    dropped : int
        Number of jobs removed; always 0 unless ``drop_infeasible``.

    Raises
    ------
    ValueError
        If ``prompt`` or ``budget`` is invalid, a job does not fit and
        ``drop_infeasible`` is false (the error of
        :func:`kvbook.model.make_instance`, which names the job), or no job
        fits.

    Examples
    --------
    >>> trace = TraceData(np.array([374, 396, 9000]), np.array([44, 109, 10]), "t")
    >>> instance, dropped = trace_instance(trace, 4096, drop_infeasible=True)
    >>> instance.prompt.tolist(), dropped
    ([374, 396], 1)
    >>> trace_instance(trace, 4096, prompt="median")[0].prompt.tolist()
    [396, 396, 396]
    """
    if not isinstance(trace, TraceData):
        raise ValueError(
            f"trace must be a TraceData from load_trace, got {type(trace).__name__}"
        )
    prompts = _prompt_lengths(trace, prompt)
    outputs = trace.output
    label = trace.source if name is None else name
    if not drop_infeasible:
        return make_instance(outputs, prompts, budget, name=label), 0

    budget = _check_budget(budget)
    peak = np.asarray(prompts, dtype=np.int64) + outputs
    keep = peak <= budget
    if not keep.any():
        raise ValueError(
            f"no job of {label} fits in a budget of {budget} tokens; the smallest "
            f"peak s + o is {int(peak.min())}, so raise the budget to at least "
            f"{int(peak.min())}"
        )
    if isinstance(prompts, np.ndarray):
        prompts = prompts[keep]
    dropped = int(np.count_nonzero(~keep))
    return make_instance(outputs[keep], prompts, budget, name=label), dropped
