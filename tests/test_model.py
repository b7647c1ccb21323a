"""Instance construction: every path checks its input."""

import numpy as np
import pytest

from kvbook import Instance, make_instance
from kvbook.model import MAX_ROUNDS


def test_direct_instance_checked():
    with pytest.raises(ValueError, match="prompt has 1 entries but output has 5"):
        Instance(prompt=np.array([1]), output=np.array([3] * 5), budget=12)


def test_direct_instance_negative_output():
    with pytest.raises(ValueError, match=r"output\[0\] = -5 is not positive"):
        Instance(prompt=[1, 1], output=[-5, 3], budget=12)


def test_direct_instance_normalised():
    instance = Instance(prompt=[2, 2], output=[3.0, 4.0], budget=12.0)
    assert instance.output.dtype == np.int64
    assert instance.budget == 12
    assert not instance.output.flags.writeable


def test_unsigned_overflow_named():
    values = np.array([2**63 + 5], dtype=np.uint64)
    with pytest.raises(ValueError, match=r"output\[0\] = 9223372036854775813 is too"):
        make_instance(values, 2, 12)


def test_python_int_overflow_named():
    with pytest.raises(ValueError, match=r"output\[0\] = 10{30} is too large"):
        make_instance([10**30], 2, 12)


def test_ragged_list_named():
    with pytest.raises(ValueError, match="output must be a flat sequence"):
        make_instance([[3, 3], [3]], 2, 12)


def test_fractional_length_named():
    with pytest.raises(ValueError, match=r"output\[1\] = 3.5 is not a whole number"):
        make_instance([3, 3.5], 2, 12)


def test_too_many_rounds_rejected():
    with pytest.raises(ValueError, match=f"more than the {MAX_ROUNDS}"):
        make_instance([10**9], 1, 10**9 + 1)


def test_worked_example_area():
    instance = make_instance([3, 3, 3], prompt=2, budget=12)
    assert instance.area.tolist() == [12, 12, 12]
    assert instance.uniform_prompt


def test_area_beyond_int64_accepted():
    # o * s = 4096 * 2**52 passes the int64 range, yet the instance needs
    # only about 4096 rounds, so the rounds check must not overflow.
    instance = make_instance([4096], prompt=2**52, budget=2**52 + 4096)
    assert instance.n == 1
