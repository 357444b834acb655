"""synthaug.validation: one set of argument checks, one message style, for every layer."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch

from synthaug import validation as V


@pytest.mark.parametrize("value", [1, 7, np.int64(3), np.uint8(2)])
def test_positive_int_accepts_ints_and_returns_python_ints(value):
    out = V.positive_int("n", value)
    assert out == int(value) and type(out) is int


@pytest.mark.parametrize(
    "value, error, message",
    [
        (0, ValueError, "n must be a positive int, got 0"),
        (-3, ValueError, "n must be a positive int, got -3"),
        (True, TypeError, "n must be a positive int, got bool True"),
        (2.0, TypeError, "n must be a positive int, got float 2.0"),
        ("3", TypeError, "n must be a positive int, got str '3'"),
        (None, TypeError, "n must be a positive int, got NoneType None"),
    ],
)
def test_positive_int_refusals_name_argument_expectation_and_value(value, error, message):
    with pytest.raises(error) as info:
        V.positive_int("n", value)
    assert str(info.value) == message


def test_wrong_types_are_both_type_and_value_errors():
    """Old callers caught ValueError for a wrong type, new ones catch TypeError: both work."""
    with pytest.raises(ValueError):
        V.check_seed("seed", "x")
    with pytest.raises(TypeError):
        V.check_seed("seed", "x")
    with pytest.raises(ValueError) as info:  # a range error is a ValueError only
        V.check_seed("seed", -1)
    assert not isinstance(info.value, TypeError)


def test_bounds_and_expected_words():
    assert V.check_int("k", 5, low=2, high=5) == 5
    with pytest.raises(ValueError, match=r"k must be an int in \[2, 5\], got 6"):
        V.check_int("k", 6, low=2, high=5)
    with pytest.raises(ValueError, match="k must be an int >= 2, got 1"):
        V.check_int("k", 1, low=2)
    with pytest.raises(ValueError, match="k must be odd, got 4"):
        V.check_int("k", 4, low=5, expected="odd")
    assert V.non_negative_int("i", 0) == 0
    assert V.check_seed("s", None, allow_none=True) is None
    with pytest.raises(ValueError, match="s must be None or a non-negative int, got -1"):
        V.check_seed("s", -1, allow_none=True)


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_numbers_refuse_nan_and_infinity(value):
    with pytest.raises(ValueError, match="x must be a finite number"):
        V.check_number("x", value)


def test_number_bounds_open_and_closed():
    assert V.check_number("p", 0, low=0.0, high=1.0) == 0.0 and V.check_probability("p", np.float32(0.5)) == 0.5
    with pytest.raises(ValueError, match=r"lr must be a number in \(0, 1\), got 0"):
        V.check_number("lr", 0, low=0.0, high=1.0, low_open=True, high_open=True)
    with pytest.raises(ValueError, match=r"p must be a probability in \[0, 1\], got 1.5"):
        V.check_probability("p", 1.5)
    assert V.check_number("big", math.inf, low=0.0, allow_inf=True) == math.inf
    with pytest.raises(TypeError, match="got bool True"):
        V.check_probability("p", True)


def test_bool_choice_callable_index():
    assert V.check_bool("flag", False) is False
    with pytest.raises(TypeError, match=r"flag must be a bool \(True or False\), got int 1"):
        V.check_bool("flag", 1)
    assert V.check_choice("mode", "a", ("a", "b")) == "a"
    with pytest.raises(ValueError, match=r"mode must be one of \('a', 'b'\), got 'c'"):
        V.check_choice("mode", "c", ("a", "b"))
    with pytest.raises(ValueError, match="mode must be one of"):
        V.check_choice("mode", ["unhashable"], ("a", "b"))
    assert V.check_callable("t", None) is None and V.check_callable("t", len) is len
    with pytest.raises(TypeError, match="t must be a callable or None, got int 5"):
        V.check_callable("t", 5)
    assert V.check_index(-1, 4) == 3
    with pytest.raises(IndexError, match="index 4 is out of range for a dataset of 4 items"):
        V.check_index(4, 4)
    with pytest.raises(TypeError, match="index must be an int, got str"):
        V.check_index("0", 4)


def test_check_device():
    assert V.check_device("device", "cpu") == torch.device("cpu")
    with pytest.raises(ValueError, match="device must be a torch device"):
        V.check_device("device", "gpu7")
    with pytest.raises(TypeError, match="device must be a device string"):
        V.check_device("device", 3)


def test_validation_imports_nothing_from_synthaug():
    """The bottom layer: every other module may use it."""
    import ast

    tree = ast.parse(open(V.__file__).read())
    modules = [alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names]
    modules += [node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
    assert modules and not any(name.startswith("synthaug") for name in modules)


# -- renamed homes keep working ---------------------------------------------------------------------


def test_deprecated_aliases_warn_and_still_work(tmp_path, generator_factory):
    import synthaug.data
    import synthaug.data.exported

    with pytest.warns(DeprecationWarning, match="synthaug.data.ExportedDataset is deprecated"):
        cls = synthaug.data.ExportedDataset
    assert cls is synthaug.ExportedDataset is synthaug.export.ExportedDataset
    with pytest.warns(DeprecationWarning, match="synthaug.data.exported is deprecated"):
        assert synthaug.data.exported.MANIFEST_NAME == "manifest.json"
    with pytest.raises(AttributeError):
        synthaug.data.no_such_name  # noqa: B018


def test_moved_modules_keep_their_public_spelling_without_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        import synthaug.albumentations as SA
        import synthaug.filters
        import synthaug.sharding
        from synthaug.data.filters import Filter
        from synthaug.metrics import train_filter_classifier
        from synthaug.transforms.albumentations import Denoise

    assert synthaug.filters.Filter is Filter and synthaug.filters.train_filter_classifier is train_filter_classifier
    assert SA.Denoise is Denoise and Denoise.get_class_fullname() == "synthaug.albumentations.Denoise"
    assert synthaug.sharding.export_npz_shard is synthaug.export.export_npz_shard
