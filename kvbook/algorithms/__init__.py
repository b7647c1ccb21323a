"""The paper's algorithms and the prior-work baselines, by registry name.

>>> sorted(ALGORITHMS)
['amin', 'fcfs_recompute', 'gba', 'greedy_batch', 'gsa', 'mcsf', 'sorted_f', 'sps']
>>> from kvbook import make_instance
>>> run("gsa", make_instance([3, 3, 3], prompt=2, budget=12)).flow_time
24
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from kvbook.algorithms.amin import amin
from kvbook.algorithms.fcfs_recompute import fcfs_recompute
from kvbook.algorithms.gba import gba
from kvbook.algorithms.greedy_batch import greedy_batch
from kvbook.algorithms.gsa import gsa
from kvbook.algorithms.mcsf import mcsf
from kvbook.algorithms.sorted_f import sorted_f
from kvbook.algorithms.sps import sps
from kvbook.model import Instance, Schedule

__all__ = [
    "ALGORITHMS",
    "Algorithm",
    "amin",
    "fcfs_recompute",
    "gba",
    "greedy_batch",
    "gsa",
    "mcsf",
    "parse_algorithms",
    "run",
    "sorted_f",
    "sps",
]


@dataclass(frozen=True)
class Algorithm:
    """A registry entry: the function, whether it is given the output
    lengths, and its source."""

    name: str
    function: Callable[..., Schedule]
    clairvoyant: bool
    source: str


ALGORITHMS: dict[str, Algorithm] = {
    entry.name: entry
    for entry in [
        Algorithm("sps", sps, True, "Feng, Yang, Zhang 2026: staggered pipelining"),
        Algorithm("gba", gba, True, "Feng, Yang, Zhang 2026: geometric batching"),
        Algorithm("gsa", gsa, False, "Feng, Yang, Zhang 2026: geometric slicing"),
        Algorithm("mcsf", mcsf, True, "Jaillet et al. 2025: MC-SF"),
        Algorithm("sorted_f", sorted_f, True, "Wang et al. 2025: Sorted-F"),
        Algorithm("amin", amin, False, "Chen et al. 2025: A_min"),
        Algorithm(
            "fcfs_recompute", fcfs_recompute, False, "serving engines: FCFS, recompute"
        ),
        Algorithm("greedy_batch", greedy_batch, True, "greedy batching"),
    ]
}


def parse_algorithms(text: str) -> list[str]:
    """Return the names in ``"all"`` or a comma-separated list, checked.

    >>> parse_algorithms("gsa, sps")
    ['gsa', 'sps']
    """
    if not isinstance(text, str):
        raise ValueError(
            f"algorithms must be a string such as 'all' or 'gsa,sps', got {text!r}"
        )
    if text.strip() == "all":
        return list(ALGORITHMS)
    names = [part.strip() for part in text.split(",") if part.strip()]
    names = list(dict.fromkeys(names))  # a repeated name runs once
    if not names:
        raise ValueError("no algorithm named; pass 'all' or a comma-separated list")
    for name in names:
        if name not in ALGORITHMS:
            raise ValueError(
                f"unknown algorithm {name!r}; choose from {', '.join(ALGORITHMS)} "
                "or 'all'"
            )
    return names


def run(name: str, instance: Instance, **params) -> Schedule:
    """Run the registered algorithm ``name`` on ``instance``."""
    if name not in ALGORITHMS:
        raise ValueError(
            f"unknown algorithm {name!r}; choose from {', '.join(ALGORITHMS)}"
        )
    return ALGORITHMS[name].function(instance, **params)
