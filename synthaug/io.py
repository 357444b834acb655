"""Public loading entry point for saved bundles.

The one place where a bundle's ``model_type`` is turned into a class for loading any
model: the bundle format (:mod:`synthaug.generators.bundle`) sits under the models and
does not know them, so this module, above the registry, passes it the registry's lookup.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from synthaug.generators.base import ConfigurableModule
from synthaug.generators.bundle import read_bundle
from synthaug.generators.registry import get_model_class
from synthaug.validation import check_device


def load(path: str | Path, device: str | torch.device = "cpu") -> ConfigurableModule:
    """Load a bundle directory written by ``save_pretrained`` or ``synthaug train``.

    Never executes code from the bundle: ``config.json`` is validated JSON and the weights
    are safetensors. Errors (:class:`synthaug.BundleError`, a ``ValueError``) name the file
    and the key at fault.

    Args:
        path: the bundle directory.
        device: where to put the model (default CPU).

    Returns:
        The model in eval mode, of the class the bundle's ``model_type`` names: a generator
        such as :class:`~synthaug.ConditionalGAN`, or a :class:`~synthaug.DenoisingAutoencoder`.

    Example:
        >>> gen = synthaug.load("runs/demo/cgan")
        >>> images = gen.sample(torch.tensor([0, 1, 2]), generator=torch.Generator().manual_seed(0))

    Raises:
        TypeError: ``path`` is not a string or path, or ``device`` not a device.
        ValueError: ``device`` names a device this machine does not have;
            :class:`synthaug.BundleError` for a missing, broken or hostile bundle.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a bundle directory (str or os.PathLike), got {type(path).__name__} {path!r}")
    return read_bundle(path, device=check_device("device", device), resolve=get_model_class)
