"""The bundle format: a directory with ``config.json`` and ``model.safetensors``.

This module is the layer *under* the models. It knows the files (their names, the
document's keys and versions, the safetensors header, the checksum, the size limit, the
atomic write) and nothing of the model classes: it imports neither
:mod:`~synthaug.generators.base`, nor the registry, nor any model family. A writer hands
it a model type name, a config dict and a state dict; a reader hands it ``resolve``, the
function from a type name to a class, so the choice of which classes a bundle may become
stays with the caller (:func:`synthaug.load` resolves through the registry,
``cls.from_pretrained`` only to ``cls`` and its subclasses).

Loading never unpickles and never imports code named in a file: the JSON document is
validated key by key, the class comes from the caller's ``resolve`` and validates its own
config, and the weights are plain tensors checked name by name, shape by shape against the
model the config builds (on the meta device, so nothing is allocated) before any tensor
data is read.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from synthaug._version import __version__
from synthaug.errors import BundleError
from synthaug.utils.atomic import atomic_file, fsync_file
from synthaug.utils.files import check_format_version, read_json_object, sha256_file
from synthaug.validation import check_int

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
FORMAT_VERSION = 1
MAX_CONFIG_BYTES = 16 * 2**20
"""A ``config.json`` larger than this is refused unread (real ones are a few KB)."""
MAX_PARAMETERS = 200_000_000
"""A bound on model size, checked against a config's estimate before anything is allocated:
configs come from files users download, and a few edited numbers could ask for terabytes."""
_TOP_LEVEL_KEYS = {"format_version", "model_type", "synthaug_version", "config", "weights_sha256"}


_SAFETENSORS_DTYPES = {
    torch.float64: "F64",
    torch.float32: "F32",
    torch.float16: "F16",
    torch.bfloat16: "BF16",
    torch.int64: "I64",
    torch.int32: "I32",
    torch.int16: "I16",
    torch.int8: "I8",
    torch.uint8: "U8",
    torch.bool: "BOOL",
}
"""torch dtype -> the dtype name in a safetensors header."""
_TORCH_DTYPE_NAMES = {code: str(dtype) for dtype, code in _SAFETENSORS_DTYPES.items()}


class BundledModule(Protocol):
    """What :func:`write_bundle` needs from a model (a :class:`~synthaug.ConfigurableModule` has it)."""

    @property
    def model_type(self) -> str: ...

    @property
    def config(self) -> Mapping[str, Any]: ...

    def state_dict(self) -> Mapping[str, torch.Tensor]: ...


def _check_regular_file(path: Path, hint: str = "") -> None:
    """Refuse a missing ``path`` or one that is not a regular file (a directory, FIFO, device)."""
    if not path.exists():
        raise BundleError(f"{path}: file not found" + (f"; {hint}" if hint else ""))
    if not path.is_file():
        raise BundleError(f"{path}: not a regular file")


def _naming(path: Path, error: Exception) -> str:
    """``error``'s message, prefixed with ``path`` unless it names it already."""
    return str(error) if str(path) in str(error) else f"{path}: {error}"


# -- writing --------------------------------------------------------------------------------


def write_bundle_files(
    path: str | Path, model_type: str, config: Mapping[str, Any], state: Mapping[str, torch.Tensor]
) -> Path:
    """Write a bundle of ``model_type`` with ``config`` and the tensors ``state`` into directory ``path``.

    The directory is created; other files there are kept. Both files are written to
    temporaries and made durable first (``config.json`` records the weights' SHA-256), then
    renamed into place, so a failure while writing (a full disk, an error, Ctrl-C) leaves
    the previous bundle as it was. Only a crash between the two renames leaves a config
    whose checksum does not match the weights, which :func:`read_weights` refuses, so a torn
    save is never silently loaded as a mix of old and new.
    """
    if not isinstance(model_type, str) or not model_type:
        raise TypeError(f"model_type must be a non-empty str, got {model_type!r}")
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ValueError(f"path {str(path)!r} exists and is not a directory")
    state = {k: v.detach().to("cpu").contiguous() for k, v in state.items()}
    # On leaving the block the config is renamed in first, then the weights.
    with atomic_file(path / WEIGHTS_NAME) as weights_tmp, atomic_file(path / CONFIG_NAME) as config_tmp:
        # One metadata key only: safetensors writes several in an unstable order, and the
        # checksum below should be the same for the same weights.
        save_file(state, str(weights_tmp), metadata={"format": "pt"})
        document = {
            "format_version": FORMAT_VERSION,
            "model_type": model_type,
            "synthaug_version": __version__,
            "config": dict(config),
            "weights_sha256": sha256_file(weights_tmp),
        }
        config_tmp.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
        fsync_file(weights_tmp)  # a late write error (ENOSPC at fsync) surfaces before any rename
    return path


def write_bundle(model: BundledModule, path: str | Path) -> Path:
    """Save ``model`` (its ``model_type``, ``config`` and ``state_dict()``) as a bundle in directory ``path``.

    See :func:`write_bundle_files`; ``model.save_pretrained(path)`` calls this.
    """
    if not getattr(model, "model_type", ""):
        raise TypeError(f"{type(model).__name__} is not a registered model class and cannot be saved as a bundle")
    return write_bundle_files(path, model.model_type, model.config, model.state_dict())


# -- reading --------------------------------------------------------------------------------


def read_config(path: str | Path) -> dict[str, Any]:
    """Read bundle directory ``path``'s ``config.json`` and validate the document's own keys.

    Returns the whole document. Its ``config`` is a JSON object but is not yet checked
    against a model class (this layer knows none): :func:`read_bundle` has the class
    validate it.
    """
    path = Path(path)
    if not path.exists():
        raise BundleError(f"bundle path {str(path)!r} does not exist")
    if not path.is_dir():
        raise BundleError(
            f"bundle path {str(path)!r} is a file; expected a directory holding {CONFIG_NAME} and {WEIGHTS_NAME}"
        )
    config_path = path / CONFIG_NAME
    _check_regular_file(config_path, f"is {str(path)!r} a synthaug bundle?")
    document = read_json_object(
        config_path, MAX_CONFIG_BYTES, error=BundleError, too_large="a bundle config is a few KB"
    )
    unknown = sorted(set(document) - _TOP_LEVEL_KEYS)
    if unknown:
        raise BundleError(f"{config_path}: unknown key(s) {unknown}; expected {sorted(_TOP_LEVEL_KEYS)}")
    for key in ("weights_sha256", "synthaug_version"):
        if not isinstance(document.get(key, ""), str):
            raise BundleError(f"{config_path}: key {key!r} must be str, got {type(document[key]).__name__}")
    for key in ("format_version", "model_type", "config"):
        if key not in document:
            raise BundleError(f"{config_path}: missing required key {key!r}")
    try:
        check_int("key 'format_version'", document["format_version"], low=1, expected="an int >= 1")
    except ValueError as e:  # also the ArgumentTypeError of a str or a bool (JSON true is no version)
        raise BundleError(f"{config_path}: {e}") from None
    for key, kind in (("model_type", str), ("config", dict)):
        if not isinstance(document[key], kind):
            raise BundleError(f"{config_path}: key {key!r} must be {kind.__name__}, got {type(document[key]).__name__}")
    check_format_version(
        document["format_version"],
        FORMAT_VERSION,
        where=str(config_path),
        what="bundle",
        writer=document.get("synthaug_version"),
        error=BundleError,
    )
    return document


def read_weights(
    path: str | Path, expected: Mapping[str, torch.Tensor], weights_sha256: str | None = None
) -> dict[str, torch.Tensor]:
    """The tensors of bundle directory ``path``'s ``model.safetensors``, on the CPU.

    ``expected`` is the state dict the file must match (meta tensors will do: only names,
    shapes and dtypes are read from it). The header is checked against it, then the whole
    file against ``weights_sha256`` when the config recorded one, and only then is any
    tensor data read.
    """
    weights_path = Path(path) / WEIGHTS_NAME
    _check_regular_file(weights_path)
    # The header first: names, shapes and dtypes are checked before any tensor is read.
    try:
        with safe_open(str(weights_path), framework="pt", device="cpu") as f:
            found = {}
            for name in f.keys():
                header = f.get_slice(name)  # shape and dtype only; no data is read
                found[name] = (tuple(header.get_shape()), header.get_dtype())
    except Exception as e:  # safetensors raises its own error type for every malformed header
        raise BundleError(
            f"{weights_path}: not a readable safetensors file ({type(e).__name__}: {e}); "
            "bundles hold safetensors only, never pickled (torch.save) weights"
        ) from e
    missing = sorted(set(expected) - set(found))
    unexpected = sorted(set(found) - set(expected))
    if missing or unexpected:
        raise BundleError(
            f"{weights_path}: tensors do not match the config: missing {missing[:5]}, unexpected {unexpected[:5]}"
        )
    for name, (shape, dtype) in found.items():
        want = expected[name]
        if shape != tuple(want.shape) or dtype != _SAFETENSORS_DTYPES.get(want.dtype):
            raise BundleError(
                f"{weights_path}: tensor {name!r} is {shape} {_TORCH_DTYPE_NAMES.get(dtype, dtype)}, "
                f"the config needs {tuple(want.shape)} {want.dtype}"
            )
    if weights_sha256 is not None and weights_sha256 != sha256_file(weights_path):
        raise BundleError(
            f"{weights_path}: SHA-256 does not match weights_sha256 in {CONFIG_NAME}; the bundle was "
            "modified or its save was interrupted: save it again"
        )
    try:
        return load_file(str(weights_path), device="cpu")
    except Exception as e:
        raise BundleError(f"{weights_path}: not a readable safetensors file ({type(e).__name__}: {e})") from e


def read_bundle(
    path: str | Path, device: str | torch.device = "cpu", *, resolve: Callable[[str], Any] | None = None
) -> Any:
    """Rebuild the model saved in bundle directory ``path``, in eval mode on ``device``.

    Args:
        path: the bundle directory.
        device: where to put the model.
        resolve: maps the bundle's ``model_type`` to the class to build: a
            :class:`~synthaug.ConfigurableModule` subclass (anything with a
            ``validate_config(config, where=...)`` classmethod and keyword constructor).
            It raises ``ValueError`` for a type it does not know (reported as a
            :class:`~synthaug.BundleError` naming the file) and may raise ``TypeError`` to
            refuse a known type (passed on: the caller asked for another class).
            Required: this layer sits under the registry and cannot look names up itself.
            :func:`synthaug.load` passes the registry's
            :func:`~synthaug.generators.get_model_class`.

    Raises:
        BundleError: a missing, broken or hostile bundle, naming the file and the key.
    """
    if resolve is None:
        raise TypeError(
            "read_bundle(path) needs resolve=, the function from a model_type to its class (the bundle "
            "format sits under the registry and does not know the classes); use synthaug.load(path), "
            "which resolves through the registry, or pass resolve=synthaug.generators.get_model_class"
        )
    path = Path(path)
    document = read_config(path)
    config_path = path / CONFIG_NAME
    try:
        model_class = resolve(document["model_type"])
    except TypeError:
        raise
    except ValueError as e:  # an unknown type name: the file is at fault
        raise BundleError(_naming(config_path, e)) from e
    # Fields added after a bundle was written: its config means by their absence what the
    # class records as `legacy_config` (e.g. the cGAN's two-stage layout), not today's default.
    saved = document["config"]
    if isinstance(saved, dict):
        saved = {**getattr(model_class, "legacy_config", {}), **saved}
    try:
        config = model_class.validate_config(saved, where=f"{config_path}: key 'config'")
    except (TypeError, ValueError) as e:
        raise BundleError(_naming(config_path, e)) from e
    # Build on the meta device: no memory and no random init (which would advance the
    # caller's global RNG); the file's tensors are then assigned as the parameters.
    with torch.device("meta"):
        model = model_class(**config)
    state = read_weights(path, model.state_dict(), document.get("weights_sha256"))
    model.load_state_dict(state, strict=True, assign=True)
    return model.to(device).eval()
