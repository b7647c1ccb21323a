"""kvbook: offline KV-cache scheduling, after Feng, Yang and Zhang (2026).

The package simulates the round model of "Competitive Non-Clairvoyant
KV-Cache Scheduling for LLM Inference" (arXiv:2601.22996), runs the paper's
algorithms (SPS, GBA, GSA) and the prior-work baselines, validates their
schedules, and bounds the optimum.
"""

from kvbook._kernel_cache import refresh_kernel_cache
from kvbook.model import Instance, Schedule, make_instance

refresh_kernel_cache()

__all__ = ["Instance", "Schedule", "make_instance"]
__version__ = "0.1.0"
