"""The bundle format: a directory with ``config.json`` and ``model.safetensors``.

Loading never unpickles and never imports code named in a file: the JSON config is
validated field by field against the registered class's declared fields, the class is
looked up in the registry, and the weights are plain tensors checked name by name,
shape by shape against the freshly built model.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from synthaug._version import __version__
from synthaug.errors import BundleError
from synthaug.generators.base import MAX_PARAMETERS, ConfigurableModule
from synthaug.generators.config import validate_config
from synthaug.generators.registry import get_model_class
from synthaug.utils.atomic import atomic_file, write_text_atomic

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
FORMAT_VERSION = 1
_TOP_LEVEL_KEYS = {"format_version", "model_type", "synthaug_version", "config", "weights_sha256"}


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_bundle(model: ConfigurableModule, path: str | Path) -> Path:
    """Save ``model`` as a bundle in directory ``path`` (created; other files there are kept).

    The weights are written first, then ``config.json`` with the weights' SHA-256; each
    file is replaced atomically. An interruption between the two leaves a config whose
    checksum does not match the weights, which :func:`read_bundle` refuses, so a torn
    save is never silently loaded as a mix of old and new.
    """
    if not getattr(model, "model_type", ""):
        raise TypeError(f"{type(model).__name__} is not a registered model class and cannot be saved as a bundle")
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ValueError(f"path {str(path)!r} exists and is not a directory")
    state = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    with atomic_file(path / WEIGHTS_NAME) as tmp:
        # One metadata key only: safetensors writes several in an unstable order, and the
        # checksum below should be the same for the same weights.
        save_file(state, str(tmp), metadata={"format": "pt"})
        checksum = _sha256(tmp)
    document = {
        "format_version": FORMAT_VERSION,
        "model_type": model.model_type,
        "synthaug_version": __version__,
        "config": model.config,
        "weights_sha256": checksum,
    }
    write_text_atomic(path / CONFIG_NAME, json.dumps(document, indent=2) + "\n")
    return path


def read_config(path: str | Path) -> dict[str, Any]:
    """Read and validate a bundle's ``config.json``; returns the whole document."""
    path = Path(path)
    if not path.exists():
        raise BundleError(f"bundle path {str(path)!r} does not exist")
    if not path.is_dir():
        raise BundleError(f"bundle path {str(path)!r} is a file; expected a directory holding {CONFIG_NAME} and {WEIGHTS_NAME}")
    config_path = path / CONFIG_NAME
    if not config_path.is_file():
        raise BundleError(f"{config_path}: file not found; is {str(path)!r} a synthaug bundle?")
    try:
        document = json.loads(config_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise BundleError(f"{config_path}: not valid JSON ({e})") from e
    if not isinstance(document, dict):
        raise BundleError(f"{config_path}: expected a JSON object, got {type(document).__name__}")
    unknown = sorted(set(document) - _TOP_LEVEL_KEYS)
    if unknown:
        raise BundleError(f"{config_path}: unknown key(s) {unknown}; expected {sorted(_TOP_LEVEL_KEYS)}")
    if not isinstance(document.get("weights_sha256", ""), str):
        raise BundleError(f"{config_path}: key 'weights_sha256' must be str, got {type(document['weights_sha256']).__name__}")
    for key, kind in (("format_version", int), ("model_type", str), ("config", dict)):
        if key not in document:
            raise BundleError(f"{config_path}: missing required key {key!r}")
        if not isinstance(document[key], kind) or isinstance(document[key], bool):
            raise BundleError(f"{config_path}: key {key!r} must be {kind.__name__}, got {type(document[key]).__name__}")
    if document["format_version"] < 1:
        raise BundleError(f"{config_path}: key 'format_version' must be >= 1, got {document['format_version']}")
    if document["format_version"] > FORMAT_VERSION:
        raise BundleError(
            f"{config_path}: bundle format_version {document['format_version']} is newer than this synthaug "
            f"({__version__}) reads (up to {FORMAT_VERSION}); it was written by synthaug "
            f"{document.get('synthaug_version', '?')}: upgrade synthaug to at least that version"
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
    if not weights_path.is_file():
        raise BundleError(f"{weights_path}: file not found")
    try:
        state = load_file(str(weights_path), device="cpu")
    except Exception as e:  # safetensors raises its own error type for every malformed header
        raise BundleError(f"{weights_path}: not a readable safetensors file ({type(e).__name__}: {e})") from e
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        raise BundleError(f"{weights_path}: tensors do not match the config: missing {missing[:5]}, unexpected {unexpected[:5]}")
    for name, tensor in state.items():
        want = expected[name]
        if tensor.shape != want.shape or tensor.dtype != want.dtype:
            raise BundleError(
                f"{weights_path}: tensor {name!r} is {tuple(tensor.shape)} {tensor.dtype}, "
                f"the config needs {tuple(want.shape)} {want.dtype}"
            )
    recorded = document.get("weights_sha256")
    if recorded is not None and recorded != _sha256(weights_path):
        raise BundleError(
            f"{weights_path}: SHA-256 does not match weights_sha256 in {CONFIG_NAME}; the bundle was "
            "modified or its save was interrupted: save it again"
        )
    model.load_state_dict(state, strict=True, assign=True)
    return model.to(device).eval()
