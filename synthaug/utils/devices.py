"""Checking a ``device`` argument before any tensor is moved.

``torch.device("gpu7")`` raises a ``RuntimeError`` whose message does not name the
argument, and ``torch.device("cuda")`` is accepted on a machine without CUDA until the
first tensor is moved there. One check, shared by :func:`synthaug.load`,
``SyntheticDataset.batches`` and the CLI, answers both with a ``ValueError`` naming the
argument, the value and what is expected.
"""

from __future__ import annotations

from typing import Any

import torch


def check_device(name: str, value: Any) -> torch.device:
    """``value`` as a :class:`torch.device` that this machine has.

    Accepts ``torch.device`` objects and strings such as ``"cpu"``, ``"cuda"``,
    ``"cuda:1"`` or ``"mps"``.

    Raises:
        TypeError: ``value`` is neither a string nor a ``torch.device``.
        ValueError: not a device name, or a device this machine does not have.
    """
    if not isinstance(value, (str, torch.device)):
        raise TypeError(f"{name} must be a device string such as 'cpu' or 'cuda:0', or a torch.device; "
                        f"got {type(value).__name__} {value!r}")
    try:
        device = torch.device(value)
    except (RuntimeError, ValueError):
        raise ValueError(f"{name} must be a torch device such as 'cpu', 'cuda' or 'cuda:1', got {value!r}") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"{name}={value!r}: CUDA is not available on this machine (use 'cpu')")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ValueError(f"{name}={value!r}: this machine has {torch.cuda.device_count()} CUDA device(s)")
    elif device.type == "mps":
        if not torch.backends.mps.is_available():
            raise ValueError(f"{name}={value!r}: MPS is not available on this machine (use 'cpu')")
    elif device.type != "cpu":
        raise ValueError(f"{name} must be 'cpu', 'cuda', 'cuda:N' or 'mps', got {value!r}")
    return device
