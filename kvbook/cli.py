"""The ``kvbook`` command line.

``kvbook run`` loads a trace, builds an instance for a KV-cache budget, runs
the chosen algorithms on it, validates every schedule and prints one row per
algorithm::

    kvbook run --trace azure-conv --budget 16384 --algorithms all

``kvbook bench`` is implemented in :mod:`kvbook.bench` and is available when
that module is part of the build.

Exit status: 0 on success, 1 when the validator rejects a schedule, 2 on
invalid input. Invalid input is reported as one line on stderr,
``kvbook: error: ...``, that names the value and the fix.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
import sys
import time
from pathlib import Path

from kvbook import __version__
from kvbook.algorithms import ALGORITHMS, parse_algorithms, run
from kvbook.bounds import lower_bound
from kvbook.model import make_instance
from kvbook.report import (
    describe_instance,
    format_table,
    result_rows,
    save_run_figure,
    save_schedules,
)
from kvbook.traces import KNOWN_TRACES, load_trace, trace_instance
from kvbook.validate import Validation, validate

__all__ = ["build_parser", "main"]

EXIT_INVALID_SCHEDULE = 1
EXIT_USAGE = 2

# Library messages name keyword arguments; the command line names options.
_OPTION_NAMES = {
    "prompt_column=": "--prompt-column",
    "output_column=": "--output-column",
}


# Source of the prompt lengths for each --prompt word, shown in the instance line.
_PROMPT_MODES = {"trace": "from the trace", "median": "median of the trace"}


class CommandError(Exception):
    """Invalid input to a command; ``main`` prints it as one line and exits 2."""


class _Parser(argparse.ArgumentParser):
    """Argument parser with one-line errors and optionally deferred arguments.

    ``add_arguments``, when given, is called with the parser the first time
    it parses or formats help, so that a subcommand's module is imported only
    when that subcommand is used.
    """

    def __init__(self, *args, add_arguments=None, **kwargs):
        super().__init__(*args, **kwargs)
        self._add_arguments = add_arguments

    def _load_arguments(self) -> None:
        if self._add_arguments is not None:
            add_arguments, self._add_arguments = self._add_arguments, None
            add_arguments(self)

    def parse_known_args(self, args=None, namespace=None):
        self._load_arguments()
        return super().parse_known_args(args, namespace)

    def format_help(self):
        self._load_arguments()
        return super().format_help()

    def format_usage(self):
        self._load_arguments()
        return super().format_usage()

    def error(self, message):
        message = " ".join(message.split())
        self.exit(EXIT_USAGE, f"kvbook: error: {message} (see '{self.prog} --help')\n")


def _positive_int(fix: str):
    """Return an argparse type that accepts positive integers.

    ``fix``, the text that ends the error message, names a valid value.
    """

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = 0
        if value < 1:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not a positive integer; {fix}"
            )
        return value

    return parse


def _prompt_mode(text: str):
    if text in ("trace", "median"):
        return text
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or value < 1:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a prompt mode; use 'trace' (each request's own "
            "prompt length), 'median' (the median for every job) or a positive "
            "number of tokens"
        )
    return value


def _algorithm_names(text: str) -> list[str]:
    try:
        return parse_algorithms(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _add_run_arguments(parser: argparse.ArgumentParser) -> None:
    known = ", ".join(sorted(KNOWN_TRACES))
    parser.add_argument(
        "--trace",
        required=True,
        help=f"trace to schedule: {known}, or the path of a .csv or .jsonl file",
    )
    parser.add_argument(
        "--budget",
        required=True,
        type=_positive_int("give the budget M in tokens, such as 16384"),
        metavar="M",
        help="KV-cache budget M, in tokens",
    )

    parser.add_argument(
        "--prompt",
        default="trace",
        type=_prompt_mode,
        metavar="{trace,median,S}",
        help=(
            "prompt length of each job: 'trace' uses each request's own length "
            "(default), 'median' gives every job the median, and a positive "
            "integer S gives every job S tokens"
        ),
    )
    parser.add_argument(
        "--prompt-column",
        default="ContextTokens",
        help="column (CSV) or key (JSON Lines) of the prompt length in tokens "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--output-column",
        default="GeneratedTokens",
        help="column (CSV) or key (JSON Lines) of the output length in tokens "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--limit",
        type=_positive_int("give the number of requests to keep, such as 1000"),
        metavar="N",
        help="keep only the first N requests of the trace",
    )

    parser.add_argument(
        "--drop-infeasible",
        action="store_true",
        help="drop the jobs that cannot fit alone (s_i + o_i > M) and report how "
        "many on stderr; without it such a job is an error",
    )

    parser.add_argument(
        "--algorithms",
        default="all",
        type=_algorithm_names,
        metavar="NAMES",
        help=f"'all' (default) or a comma-separated list of: {', '.join(ALGORITHMS)}",
    )

    parser.add_argument(
        "--format",
        choices=("table", "json"),
        default="table",
        help="print a text table (default) or a JSON list of rows",
    )
    parser.add_argument(
        "--save-schedules",
        type=Path,
        metavar="DIR",
        help="write instance.csv, instance.json and one <algorithm>.csv per "
        "algorithm into DIR, creating it",
    )
    parser.add_argument(
        "--figure",
        type=Path,
        metavar="PATH",
        help="save a figure of memory and completed jobs over rounds to PATH; the "
        "extension picks the format (.png, .pdf, .svg)",
    )

    parser.set_defaults(kvbook_handler=_run_command)


def _load_bench():
    """Import :mod:`kvbook.bench`, or return None if the build lacks it."""
    try:
        return importlib.import_module("kvbook.bench")
    except ModuleNotFoundError as error:
        # A module that kvbook.bench imports is missing, which is a bug to report.
        if error.name != "kvbook.bench":
            raise
        return None


def _add_bench_arguments(parser: argparse.ArgumentParser) -> None:
    bench = _load_bench()
    if bench is None:
        parser.exit(EXIT_USAGE, "kvbook: error: bench is not available in this build\n")
    bench.add_arguments(parser)
    parser.set_defaults(kvbook_handler=bench.run_command)


def build_parser() -> argparse.ArgumentParser:
    """Build the ``kvbook`` argument parser with its subcommands.

    Returns
    -------
    argparse.ArgumentParser
        The parser. Its errors print one line, ``kvbook: error: ...``, and
        exit with status 2. The ``bench`` subcommand imports
        :mod:`kvbook.bench` only when it is parsed.
    """
    parser = _Parser(
        prog="kvbook",
        description="Run KV-cache scheduling algorithms on LLM inference traces.",
    )
    parser.add_argument("--version", action="version", version=f"kvbook {__version__}")
    commands = parser.add_subparsers(
        title="commands", dest="command", required=True, metavar="{run,bench}"
    )
    run_parser = commands.add_parser(
        "run",
        help="run algorithms on a trace and print one row per algorithm",
        description=(
            "Run scheduling algorithms on a trace for one KV-cache budget, "
            "validate every schedule, and print flow time, the lower bound and "
            "their ratio for each algorithm."
        ),
    )
    _add_run_arguments(run_parser)
    commands.add_parser(
        "bench",
        help="benchmark the algorithms (see 'kvbook bench --help')",
        add_arguments=_add_bench_arguments,
    )
    return parser


def _library_message(error: Exception) -> str:
    """Return a library error's message with option names for keyword names."""
    message = str(error)
    for keyword, option in _OPTION_NAMES.items():
        message = message.replace(keyword, option)
    return message


def _load(args):
    """Load the trace named by ``args`` and build its instance.

    Returns the trace, the instance and the number of dropped jobs.
    """
    try:
        trace = load_trace(
            args.trace,
            prompt_column=args.prompt_column,
            output_column=args.output_column,
            limit=args.limit,
        )
    except FileNotFoundError as error:
        if error.filename is None:
            raise CommandError(_library_message(error)) from error
        raise CommandError(
            f"trace file {error.filename} not found; pass the path of an existing "
            f".csv or .jsonl file to --trace, or one of "
            f"{', '.join(sorted(KNOWN_TRACES))}"
        ) from error
    except (ValueError, OSError) as error:
        raise CommandError(_library_message(error)) from error

    try:
        instance, dropped = trace_instance(
            trace, args.budget, prompt=args.prompt, drop_infeasible=True
        )
    except ValueError as error:
        raise CommandError(_library_message(error)) from error

    if dropped and not args.drop_infeasible:
        raise CommandError(_infeasible_message(args, trace, instance, dropped))
    return trace, instance, dropped


def _infeasible_message(args, trace, instance, dropped: int) -> str:
    """Name the first job of ``trace`` that does not fit in the budget alone."""
    if args.prompt == "trace":
        prompt = [int(s) for s in trace.prompt]
    else:
        # With "median" or a number, every job has the prompt of the kept jobs.
        prompt = [int(instance.prompt[0])] * trace.n
    peaks = [s + int(o) for s, o in zip(prompt, trace.output)]
    job = next(k for k, peak in enumerate(peaks) if peak > args.budget)
    verb = "does" if dropped == 1 else "do"
    return (
        f"job {job} of {trace.source} needs {peaks[job]} tokens at its peak "
        f"(s + o = {prompt[job]} + {int(trace.output[job])}) but --budget is "
        f"{args.budget}; {dropped} of {trace.n} jobs {verb} not fit alone, so "
        f"raise --budget to at least {max(peaks)} or pass --drop-infeasible"
    )


def _check_figure_path(path: Path) -> None:
    from matplotlib.backend_bases import FigureCanvasBase

    formats = FigureCanvasBase.get_supported_filetypes()
    suffix = path.suffix.lower().lstrip(".")
    if suffix not in formats:
        raise CommandError(
            f"--figure {path}: unknown image format {path.suffix or '(none)'!r}; "
            f"end the file name in one of "
            f"{', '.join('.' + name for name in sorted(formats))}"
        )
    parent = path.parent
    if not parent.is_dir():
        raise CommandError(
            f"--figure {path}: directory {parent} not found; create it or choose "
            "another path"
        )


def _verdict(validation: Validation) -> Validation:
    """Return ``validation`` with its memory profile dropped."""
    return dataclasses.replace(validation, memory=validation.memory[:0])


def _write_schedules(directory: Path, instance, schedules) -> None:
    if directory.exists() and not directory.is_dir():
        raise CommandError(
            f"--save-schedules {directory}: {directory} is a file, not a directory; "
            "choose a directory path"
        )
    try:
        save_schedules(instance, schedules, directory)
    except OSError as error:
        reason = error.strerror or str(error)
        where = error.filename or directory
        raise CommandError(
            f"--save-schedules {directory}: cannot write {where} ({reason}); "
            "choose a writable directory"
        ) from error


def _warm_up(name: str) -> None:
    """Run ``name`` once on two jobs, so numba compiles before timing starts."""
    run(name, make_instance([1, 2], prompt=[1, 2], budget=8))


def _run_algorithms(names, instance):
    """Run each algorithm, print its notes, and return the schedules and run times."""
    from tqdm import tqdm

    schedules = []
    seconds = []
    # disable=None turns the bar off when stderr is not a terminal.
    with tqdm(
        total=len(names), unit="algorithm", file=sys.stderr, disable=None, leave=False
    ) as bar:
        for name in names:
            bar.set_description(name)
            _warm_up(name)
            started = time.perf_counter()
            schedule = run(name, instance)
            seconds.append(time.perf_counter() - started)
            schedules.append(schedule)
            for note in schedule.notes:
                line = " ".join(note.split())
                tqdm.write(f"kvbook: note from {name}: {line}", file=sys.stderr)
            bar.update(1)
    return schedules, seconds


def _run_command(args) -> int:
    """Run the ``kvbook run`` subcommand and return its exit status."""
    if args.figure is not None:
        _check_figure_path(args.figure)
    trace, instance, dropped = _load(args)
    if dropped:
        print(
            f"kvbook: dropped {dropped} of {trace.n} jobs whose peak s_i + o_i "
            f"exceeds the budget of {args.budget} tokens; {instance.n} remain",
            file=sys.stderr,
        )
    if args.save_schedules is not None:
        # Write the instance first, so an unwritable directory fails before
        # the algorithms run.
        _write_schedules(args.save_schedules, instance, [])

    bound = lower_bound(instance)
    schedules, seconds = _run_algorithms(args.algorithms, instance)
    # Keep each verdict without its per-round memory profile: on a long trace
    # a second profile per algorithm doubles the memory the run needs.
    validations = [_verdict(validate(schedule)) for schedule in schedules]
    rows = result_rows(schedules, bound, seconds=seconds, validations=validations)

    if args.save_schedules is not None:
        _write_schedules(args.save_schedules, instance, schedules)
    prompt_mode = _PROMPT_MODES.get(args.prompt, "set by --prompt")
    summary = describe_instance(instance, bound, prompt_mode=prompt_mode)
    if args.figure is not None:
        try:
            save_run_figure(schedules, args.figure, summary)
        except (ValueError, OSError) as error:
            raise CommandError(f"--figure {args.figure}: {error}") from error

    if args.format == "json":
        print(json.dumps(rows, indent=2))
    else:
        print(summary)
        print(format_table(rows))

    status = 0
    for schedule, validation in zip(schedules, validations):
        if not validation.valid:
            status = EXIT_INVALID_SCHEDULE
            count = len(validation.errors)
            print(
                f"kvbook: the validator rejected the {schedule.algorithm} schedule "
                f"({count} error{'s' if count != 1 else ''}); the first: "
                f"{validation.errors[0]}",
                file=sys.stderr,
            )
    return status


def main(argv=None) -> int:
    """Run the ``kvbook`` command line.

    Parameters
    ----------
    argv : list of str, optional
        Arguments without the program name; defaults to ``sys.argv[1:]``.

    Returns
    -------
    int
        Exit status: 0 on success, 1 when the validator rejects a schedule,
        2 on invalid input (reported as one line on stderr).

    Examples
    --------
    A budget of 0 tokens is invalid input: the error goes to stderr and the
    exit status is 2.

    >>> main(["run", "--trace", "azure-conv", "--budget", "0"])
    2
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit:
        # argparse exits after --help, --version and usage errors.
        if exit.code is None:
            return 0
        return exit.code if isinstance(exit.code, int) else EXIT_USAGE
    try:
        return int(args.kvbook_handler(args))
    except CommandError as error:
        print(f"kvbook: error: {' '.join(str(error).split())}", file=sys.stderr)
        return EXIT_USAGE
