"""The bundle format: a directory with ``config.json`` and ``model.safetensors``.

Loading never unpickles and never imports code named in a file: the JSON config is
validated field by field against the registered class's declared fields, the class is
looked up in the registry, and the weights are plain tensors checked name by name,
shape by shape against the freshly built model.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from synthaug._version import __version__
from synthaug.errors import BundleError
from synthaug.generators.base import MAX_PARAMETERS, ConfigurableModule
from synthaug.generators.config import validate_config
from synthaug.generators.registry import get_model_class
from synthaug.utils.atomic import atomic_file, fsync_file
from synthaug.utils.files import read_json_object, sha256_file

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
FORMAT_VERSION = 1
MAX_CONFIG_BYTES = 16 * 2**20
"""A ``config.json`` larger than this is refused unread (real ones are a few KB)."""
_TOP_LEVEL_KEYS = {"format_version", "model_type", "synthaug_version", "config", "weights_sha256"}


_SAFETENSORS_DTYPES = {
    torch.float64: "F64", torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16",
    torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8", torch.uint8: "U8", torch.bool: "BOOL",
}
"""torch dtype -> the dtype name in a safetensors header."""
_TORCH_DTYPE_NAMES = {code: str(dtype) for dtype, code in _SAFETENSORS_DTYPES.items()}


def _check_regular_file(path: Path, hint: str = "") -> None:
    """Refuse a missing ``path`` or one that is not a regular file (a directory, FIFO, device)."""
    if not path.exists():
        raise BundleError(f"{path}: file not found" + (f"; {hint}" if hint else ""))
    if not path.is_file():
        raise BundleError(f"{path}: not a regular file")


def write_bundle(model: ConfigurableModule, path: str | Path) -> Path:
    """Save ``model`` as a bundle in directory ``path`` (created; other files there are kept).

    Both files are written to temporaries and made durable first (``config.json`` records
    the weights' SHA-256), then renamed into place, so a failure while writing (a full
    disk, an error, Ctrl-C) leaves the previous bundle as it was. Only a crash between the
    two renames leaves a config whose checksum does not match the weights, which
    :func:`read_bundle` refuses, so a torn save is never silently loaded as a mix of old and new.
    """
    if not getattr(model, "model_type", ""):
        raise TypeError(f"{type(model).__name__} is not a registered model class and cannot be saved as a bundle")
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ValueError(f"path {str(path)!r} exists and is not a directory")
    state = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    # On leaving the block the config is renamed in first, then the weights.
    with atomic_file(path / WEIGHTS_NAME) as weights_tmp, atomic_file(path / CONFIG_NAME) as config_tmp:
        # One metadata key only: safetensors writes several in an unstable order, and the
        # checksum below should be the same for the same weights.
        save_file(state, str(weights_tmp), metadata={"format": "pt"})
        document = {
            "format_version": FORMAT_VERSION,
            "model_type": model.model_type,
            "synthaug_version": __version__,
            "config": model.config,
            "weights_sha256": sha256_file(weights_tmp),
        }
        config_tmp.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
        fsync_file(weights_tmp)  # a late write error (ENOSPC at fsync) surfaces before any rename
    return path


def read_config(path: str | Path) -> dict[str, Any]:
    """Read and validate a bundle's ``config.json``; returns the whole document."""
    path = Path(path)
    if not path.exists():
        raise BundleError(f"bundle path {str(path)!r} does not exist")
    if not path.is_dir():
        raise BundleError(f"bundle path {str(path)!r} is a file; expected a directory holding {CONFIG_NAME} and {WEIGHTS_NAME}")
    config_path = path / CONFIG_NAME
    _check_regular_file(config_path, f"is {str(path)!r} a synthaug bundle?")
    document = read_json_object(config_path, MAX_CONFIG_BYTES, error=BundleError, too_large="a bundle config is a few KB")
    unknown = sorted(set(document) - _TOP_LEVEL_KEYS)
    if unknown:
        raise BundleError(f"{config_path}: unknown key(s) {unknown}; expected {sorted(_TOP_LEVEL_KEYS)}")
    for key in ("weights_sha256", "synthaug_version"):
        if not isinstance(document.get(key, ""), str):
            raise BundleError(f"{config_path}: key {key!r} must be str, got {type(document[key]).__name__}")
    for key, kind in (("format_version", int), ("model_type", str), ("config", dict)):
        if key not in document:
            raise BundleError(f"{config_path}: missing required key {key!r}")
        if not isinstance(document[key], kind) or isinstance(document[key], bool):
            raise BundleError(f"{config_path}: key {key!r} must be {kind.__name__}, got {type(document[key]).__name__}")
    if document["format_version"] < 1:
        raise BundleError(f"{config_path}: key 'format_version' must be >= 1, got {document['format_version']}")
    if document["format_version"] > FORMAT_VERSION:
        writer = document.get("synthaug_version", "")[:40]
        needed = f"synthaug>={writer} (it was written by synthaug {writer})" if writer else \
            "a newer synthaug (it does not record which version wrote it)"
        raise BundleError(
            f"{config_path}: bundle format_version {document['format_version']} needs {needed}; this synthaug "
            f"{__version__} reads format_version up to {FORMAT_VERSION}: upgrade synthaug"
        )
    try:
        cls = get_model_class(document["model_type"])
        document["config"] = validate_config(cls.config_fields, document["config"], where=f"{config_path}: key 'config'")
        estimate = cls.estimate_parameters(document["config"])
    except (TypeError, ValueError) as e:
        raise BundleError(f"{config_path}: {e}" if str(config_path) not in str(e) else str(e)) from e
    if estimate > MAX_PARAMETERS:
        raise BundleError(f"{config_path}: config would need about {estimate:,} parameters (limit {MAX_PARAMETERS:,})")
    return document


def read_bundle(path: str | Path, device: str | torch.device = "cpu") -> ConfigurableModule:
    """Rebuild the model (a generator or the denoising autoencoder) saved at ``path``; see :func:`synthaug.load`."""
    path = Path(path)
    document = read_config(path)
    cls = get_model_class(document["model_type"])
    # Build on the meta device: no memory and no random init (which would advance the
    # caller's global RNG); the file's tensors are then assigned as the parameters.
    with torch.device("meta"):
        model = cls(**document["config"])
    weights_path = path / WEIGHTS_NAME
    _check_regular_file(weights_path)
    expected = model.state_dict()
    # The header first: names, shapes and dtypes are checked before any tensor is read.
    try:
        with safe_open(str(weights_path), framework="pt", device="cpu") as f:
            found = {}
            for name in f.keys():
                header = f.get_slice(name)  # shape and dtype only; no data is read
                found[name] = (tuple(header.get_shape()), header.get_dtype())
    except Exception as e:  # safetensors raises its own error type for every malformed header
        raise BundleError(f"{weights_path}: not a readable safetensors file ({type(e).__name__}: {e}); "
                          "bundles hold safetensors only, never pickled (torch.save) weights") from e
    missing = sorted(set(expected) - set(found))
    unexpected = sorted(set(found) - set(expected))
    if missing or unexpected:
        raise BundleError(f"{weights_path}: tensors do not match the config: missing {missing[:5]}, unexpected {unexpected[:5]}")
    for name, (shape, dtype) in found.items():
        want = expected[name]
        if shape != tuple(want.shape) or dtype != _SAFETENSORS_DTYPES.get(want.dtype):
            raise BundleError(
                f"{weights_path}: tensor {name!r} is {shape} {_TORCH_DTYPE_NAMES.get(dtype, dtype)}, "
                f"the config needs {tuple(want.shape)} {want.dtype}"
            )
    recorded = document.get("weights_sha256")
    if recorded is not None and recorded != sha256_file(weights_path):
        raise BundleError(
            f"{weights_path}: SHA-256 does not match weights_sha256 in {CONFIG_NAME}; the bundle was "
            "modified or its save was interrupted: save it again"
        )
    try:
        state = load_file(str(weights_path), device="cpu")
    except Exception as e:
        raise BundleError(f"{weights_path}: not a readable safetensors file ({type(e).__name__}: {e})") from e
    model.load_state_dict(state, strict=True, assign=True)
    return model.to(device).eval()
