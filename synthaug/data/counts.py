"""Per-class sample counts: validation of user-given counts and proportional splits."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from torch.utils.data import Dataset

from synthaug.data.labels import label_histogram, read_labels
from synthaug.validation import check_class, check_number, non_negative_int, positive_int

MAX_SAMPLES = 10**12
"""The most items a synthetic dataset may hold (a length must fit an index; nobody generates more)."""


def check_count(name: str, value: Any, *, allow_zero: bool = False) -> int:
    """``value`` as an int, refusing bools, non-integers and values below 1 (or 0).

    :func:`synthaug.validation.positive_int` / ``non_negative_int`` under the name the
    data modules have always used.
    """
    return non_negative_int(name, value) if allow_zero else positive_int(name, value)


def check_total(name: str, total: int, value: Any = None) -> int:
    """``total`` (items asked for through ``name``, whose value was ``value``) if at most :data:`MAX_SAMPLES`.

    ``ValueError`` naming the argument otherwise: a larger dataset would not even have a length.
    """
    if total <= MAX_SAMPLES:
        return total
    if value is None:
        raise ValueError(f"{name} must be at most {MAX_SAMPLES:,}, got {total}")
    raise ValueError(f"{name}={value!r} asks for {total:,} samples in all; expected at most {MAX_SAMPLES:,}")


def class_index(key: Any, num_classes: int, class_names: list[str] | None, what: str) -> int:
    """The class index a dict key names: an index in range, or a class name (:func:`~synthaug.validation.check_class`)."""
    return check_class(what, key, num_classes, class_names)


def counts_from_mapping(
    mapping: Mapping[Any, Any], num_classes: int, class_names: list[str] | None, what: str
) -> list[int]:
    """``{class: count}`` (indices or names) as one count per class index; absent classes get 0."""
    if not isinstance(mapping, Mapping):
        raise TypeError(f"{what} must be a dict {{class: count}}, got {type(mapping).__name__}")
    counts = [0] * num_classes
    for key, count in mapping.items():
        counts[class_index(key, num_classes, class_names, what)] = check_count(
            f"{what}[{key!r}]", count, allow_zero=True
        )
    return counts


def proportional_counts(histogram: list[int], total: int) -> list[int]:
    """Split ``total`` in proportion to ``histogram`` (largest remainder: the sum is exactly ``total``)."""
    weights = np.asarray(histogram, dtype=np.float64)
    if weights.sum() <= 0:
        raise ValueError(f"cannot split {total} samples in proportion to an empty histogram {histogram}")
    exact = weights / weights.sum() * total
    counts = np.floor(exact).astype(np.int64)
    # Hand out what flooring lost to the largest remainders; ties go to the lower class index.
    order = np.argsort(-(exact - counts), kind="stable")
    counts[order[: total - int(counts.sum())]] += 1
    return counts.tolist()


IMBALANCE_POLICIES = ("not majority", "minority", "not minority", "all")
"""imbalanced-learn's named ``sampling_strategy`` policies, with their over-sampling meaning."""


def imbalance_policy_counts(policy: str | float, real_counts: list[int]) -> list[int]:
    """Items to add per class for an imbalanced-learn over-sampling ``sampling_strategy``.

    As in imbalanced-learn, only the classes present in the data take part, and the
    majority class count is the target:

    * ``"not majority"``, ``"all"``: every class topped up to the majority count;
    * ``"minority"``: the one smallest class (the first at ties) topped up;
    * ``"not minority"``: every class but that one;
    * a float ``r`` in (0, 1]: every class below ``r`` times the majority count topped up
      to it (imbalanced-learn's minority-over-majority ratio, which it allows for two
      classes only; here it applies to each class).
    """
    present = [c for c, n in enumerate(real_counts) if n > 0]
    if not present:
        return [0] * len(real_counts)
    majority = max(real_counts)
    minority = min(present, key=lambda c: real_counts[c])
    if isinstance(policy, str):
        chosen = {
            "not majority": present,
            "all": present,
            "minority": [minority],
            "not minority": [c for c in present if c != minority],
        }[policy]
        target = {c: majority for c in chosen}
    else:
        ratio = check_number(
            "strategy",
            policy,
            low=0.0,
            high=1.0,
            low_open=True,
            expected="a float in (0, 1] (imbalanced-learn's minority/majority ratio after resampling)",
        )
        target = {c: round(ratio * majority) for c in present}
    return [max(target.get(c, 0) - n, 0) for c, n in enumerate(real_counts)]


def resolve_class_counts(
    num_samples: int | None,
    class_counts: Any,
    num_classes: int,
    class_names: list[str] | None = None,
) -> list[int]:
    """Turn ``num_samples`` / ``class_counts`` into one count per class index.

    ``class_counts`` may be:

    * ``None``: ``num_samples`` split equally (the remainder goes to the first classes);
    * a dict ``{class: count}`` with class indices or names; absent classes get none;
    * a real dataset (anything :func:`~synthaug.data.labels.read_labels` reads): its label
      histogram, scaled to ``num_samples`` when that is given.
    """
    if class_counts is None:
        if num_samples is None:
            raise ValueError("num_samples is required when class_counts is None")
        n = check_total("num_samples", check_count("num_samples", num_samples))
        base, extra = divmod(n, num_classes)
        return [base + (1 if c < extra else 0) for c in range(num_classes)]
    if isinstance(class_counts, Mapping):
        counts = counts_from_mapping(class_counts, num_classes, class_names, "class_counts")
        total = sum(counts)
        if total == 0:
            raise ValueError(f"class_counts must ask for at least one sample, got {dict(class_counts)}")
        check_total("class_counts", total, dict(class_counts))
        if num_samples is not None and check_count("num_samples", num_samples) != total:
            raise ValueError(f"num_samples ({num_samples}) must equal the sum of class_counts ({total}), or be None")
        return counts
    if isinstance(class_counts, Dataset) or hasattr(class_counts, "targets"):
        histogram = label_histogram(read_labels(class_counts, name="class_counts"), num_classes, name="class_counts")
        if sum(histogram) == 0:
            raise ValueError("class_counts is an empty dataset: there is no label histogram to match")
        if num_samples is None:
            return histogram
        return proportional_counts(histogram, check_total("num_samples", check_count("num_samples", num_samples)))
    hint = (
        " (per-class counts as a list: pass dict(enumerate(counts)))" if isinstance(class_counts, (list, tuple)) else ""
    )
    raise TypeError(
        f"class_counts must be None, a dict {{class: count}} or a labelled dataset, "
        f"got {type(class_counts).__name__}{hint}"
    )
