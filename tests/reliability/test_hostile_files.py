"""Hostile and broken files: every one is refused with one error naming the file and the problem.

``test_hostile_file_is_refused`` is one table of cases (bundles and resume checkpoints), so
the number of hostile files tried is its number of test ids:

    pytest --collect-only -q tests/reliability/test_hostile_files.py -k test_hostile_file_is_refused

No case may run code: the pickled payloads would create ``marker`` if they were ever
unpickled (``test_the_payloads_are_live`` shows that they work).
"""

from __future__ import annotations

import json
import os
import pickle
import struct
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

import synthaug
from synthaug import BundleError
from synthaug.generators.bundle import MAX_CONFIG_BYTES
from synthaug.training import CGANTrainer
from synthaug.training.base import CHECKPOINT_NAME
from synthaug.utils.seeding import seeded

# torch warns about the protocol of the plain pickles before refusing them.
pytestmark = pytest.mark.filterwarnings("ignore:Detected pickle protocol")

SETTINGS = dict(batch_size=16, log_every=2, sample_every=0, progress=False, seed=0)


class OsSystem:
    """Unpickling this runs a shell command: what a malicious pickle does."""

    def __init__(self, command: str):
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


class OpensFile:
    """Unpickling this creates (opens for writing) ``path``."""

    def __init__(self, path: str):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


@dataclass(frozen=True)
class Case:
    """A hostile file: ``tamper(folder, marker)`` breaks a fresh bundle or run directory ``folder``.

    ``file`` is what the message must name (``""``: the folder itself), ``says`` a phrase it must contain.
    """

    target: str  # "bundle" or "checkpoint"
    tamper: Callable[[Path, Path], Path | None]  # may return another path to load instead of the folder
    file: str
    says: str


# -- bundle files ---------------------------------------------------------------------------------


def edit_config(edit: Callable[[dict], object]) -> Callable[[Path, Path], None]:
    def tamper(folder: Path, marker: Path) -> None:
        document = json.loads((folder / "config.json").read_text())
        edit(document)
        (folder / "config.json").write_text(json.dumps(document))

    return tamper


def write_config(text: bytes) -> Callable[[Path, Path], None]:
    def tamper(folder: Path, marker: Path) -> None:
        (folder / "config.json").write_bytes(text)

    return tamper


def replace_config_text(old: str, new: str) -> Callable[[Path, Path], None]:
    def tamper(folder: Path, marker: Path) -> None:
        text = (folder / "config.json").read_text()
        assert old in text
        (folder / "config.json").write_text(text.replace(old, new))

    return tamper


def write_weights(make: Callable[[Path, Path], bytes]) -> Callable[[Path, Path], None]:
    def tamper(folder: Path, marker: Path) -> None:
        (folder / "model.safetensors").write_bytes(make(folder, marker))

    return tamper


def weights_without_checksum(change: Callable[[dict], dict]) -> Callable[[Path, Path], None]:
    """Weights edited by ``change(state)`` and no checksum in the config, so the content checks must catch it."""

    def tamper(folder: Path, marker: Path) -> None:
        state = {k: v.contiguous() for k, v in synthaug.load(folder).state_dict().items()}
        save_file(change(state), str(folder / "model.safetensors"))
        edit_config(lambda d: d.pop("weights_sha256"))(folder, marker)

    return tamper


def safetensors_header(header: object, length: int | None = None, data: bytes = b"\0" * 16) -> bytes:
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw) if length is None else length) + raw + data


def torch_saved(obj: object) -> Callable[[Path, Path], bytes]:
    def make(folder: Path, marker: Path) -> bytes:
        path = folder / "payload.pt"
        torch.save(obj(marker) if callable(obj) else obj, path)
        data = path.read_bytes()
        path.unlink()
        return data

    return make


def symlink(name: str, target: str) -> Callable[[Path, Path], None]:
    def tamper(folder: Path, marker: Path) -> None:
        (folder / name).unlink()
        (folder / name).symlink_to(target)

    return tamper


def make_directory(name: str) -> Callable[[Path, Path], None]:
    def tamper(folder: Path, marker: Path) -> None:
        (folder / name).unlink()
        (folder / name).mkdir()

    return tamper


def remove(name: str) -> Callable[[Path, Path], None]:
    return lambda folder, marker: (folder / name).unlink()


def oversized_config(folder: Path, marker: Path) -> None:
    with open(folder / "config.json", "r+b") as f:  # sparse: no disk space used
        f.truncate(MAX_CONFIG_BYTES + 1)


def wide_weights(folder: Path, marker: Path) -> None:
    wide = synthaug.ConditionalGAN(num_classes=3, image_size=8, latent_dim=8, width=16)
    save_file({k: v.contiguous() for k, v in wide.state_dict().items()}, str(folder / "model.safetensors"))
    edit_config(lambda d: d.pop("weights_sha256"))(folder, marker)


def other_weights(folder: Path, marker: Path) -> None:
    other = synthaug.ConditionalGAN(num_classes=3, image_size=8, latent_dim=8, width=8)  # same shapes, other values
    save_file({k: v.contiguous() for k, v in other.state_dict().items()}, str(folder / "model.safetensors"))


def path_is_a_file(folder: Path, marker: Path) -> Path:
    return folder / "model.safetensors"


def path_is_missing(folder: Path, marker: Path) -> Path:
    return folder / "nowhere"


def newer_format(version: str | None) -> Callable[[dict], None]:
    def edit(document: dict) -> None:
        document["format_version"] = 2
        if version is None:
            document.pop("synthaug_version")
        else:
            document["synthaug_version"] = version

    return edit


WEIGHTS = "model.safetensors"
CONFIG = "config.json"
NUMBER_5000_DIGITS = "9" * 5000

BUNDLE_CASES = {
    # weights: pickles, torch checkpoints and malformed safetensors are never unpickled or trusted
    "weights-pickle-os-system": Case(
        "bundle",
        write_weights(lambda f, m: pickle.dumps({"generator.embed.weight": OsSystem(f"touch {m}")})),
        WEIGHTS,
        "not a readable safetensors file",
    ),
    "weights-pickle-open-file": Case(
        "bundle",
        write_weights(lambda f, m: pickle.dumps({"generator.embed.weight": OpensFile(str(m))})),
        WEIGHTS,
        "not a readable safetensors file",
    ),
    "weights-torch-save-os-system": Case(
        "bundle",
        write_weights(torch_saved(lambda m: {"w": OsSystem(f"touch {m}")})),
        WEIGHTS,
        "not a readable safetensors file",
    ),
    "weights-torch-save-tensors": Case(
        "bundle",
        write_weights(torch_saved({"generator.embed.weight": torch.zeros(3, 16)})),
        WEIGHTS,
        "not a readable safetensors file",
    ),
    "weights-empty": Case("bundle", write_weights(lambda f, m: b""), WEIGHTS, "not a readable safetensors file"),
    "weights-truncated-header": Case(
        "bundle",
        write_weights(lambda f, m: (f / WEIGHTS).read_bytes()[:100]),
        WEIGHTS,
        "not a readable safetensors file",
    ),
    "weights-truncated-data": Case(
        "bundle", write_weights(lambda f, m: (f / WEIGHTS).read_bytes()[:-64]), WEIGHTS, "safetensors"
    ),
    "weights-header-length-huge": Case(
        "bundle",
        write_weights(lambda f, m: safetensors_header({}, length=10**15)),
        WEIGHTS,
        "not a readable safetensors file",
    ),
    "weights-header-not-json": Case(
        "bundle",
        write_weights(lambda f, m: struct.pack("<Q", 8) + b"\x80\x04K\x01.abc"),
        WEIGHTS,
        "not a readable safetensors file",
    ),
    "weights-offsets-out-of-file": Case(
        "bundle",
        write_weights(
            lambda f, m: safetensors_header(
                {"generator.embed.weight": {"dtype": "F32", "shape": [3, 16], "data_offsets": [0, 10**12]}}
            )
        ),
        WEIGHTS,
        "not a readable safetensors file",
    ),
    "weights-wrong-shapes": Case("bundle", wide_weights, WEIGHTS, "the config needs"),
    "weights-wrong-dtypes": Case(
        "bundle",
        weights_without_checksum(lambda s: {k: v.double() if v.is_floating_point() else v for k, v in s.items()}),
        WEIGHTS,
        "torch.float64",
    ),
    "weights-missing-tensor": Case(
        "bundle", weights_without_checksum(lambda s: dict(sorted(s.items())[1:])), WEIGHTS, "missing"
    ),
    "weights-extra-tensor": Case(
        "bundle",
        weights_without_checksum(lambda s: {**s, "backdoor": torch.zeros(1)}),
        WEIGHTS,
        "unexpected ['backdoor']",
    ),
    "weights-changed-values": Case("bundle", other_weights, WEIGHTS, "SHA-256"),
    "weights-missing": Case("bundle", remove(WEIGHTS), WEIGHTS, "file not found"),
    "weights-directory": Case("bundle", make_directory(WEIGHTS), WEIGHTS, "not a regular file"),
    "weights-symlink-to-device": Case("bundle", symlink(WEIGHTS, "/dev/zero"), WEIGHTS, "not a regular file"),
    # config.json: only validated JSON; nothing named in it is imported
    "config-model_type-unknown": Case(
        "bundle",
        edit_config(lambda d: d.update(model_type="stylegan9")),
        CONFIG,
        "unknown model_type 'stylegan9'; known: cgan, cvae",
    ),
    "config-model_type-python-path": Case(
        "bundle", edit_config(lambda d: d.update(model_type="os.system")), CONFIG, "unknown model_type 'os.system'"
    ),
    "config-model_type-class-path": Case(
        "bundle",
        edit_config(lambda d: d.update(model_type="synthaug.generators.cgan.ConditionalGAN")),
        CONFIG,
        "unknown model_type",
    ),
    "config-model_type-list": Case(
        "bundle", edit_config(lambda d: d.update(model_type=["cgan"])), CONFIG, "'model_type' must be str"
    ),
    "config-extra-top-level-key": Case(
        "bundle", edit_config(lambda d: d.update(__reduce__="os.system")), CONFIG, "unknown key(s) ['__reduce__']"
    ),
    "config-extra-model-key": Case("bundle", edit_config(lambda d: d["config"].update(colour=3)), CONFIG, "colour"),
    "config-missing-model_type": Case("bundle", edit_config(lambda d: d.pop("model_type")), CONFIG, "model_type"),
    "config-missing-config": Case("bundle", edit_config(lambda d: d.pop("config")), CONFIG, "'config'"),
    "config-missing-format_version": Case(
        "bundle", edit_config(lambda d: d.pop("format_version")), CONFIG, "format_version"
    ),
    "config-missing-num_classes": Case(
        "bundle", edit_config(lambda d: d["config"].pop("num_classes")), CONFIG, "num_classes"
    ),
    "config-config-is-list": Case(
        "bundle", edit_config(lambda d: d.update(config=[1, 2])), CONFIG, "'config' must be dict"
    ),
    "config-format_version-str": Case(
        "bundle", edit_config(lambda d: d.update(format_version="1")), CONFIG, "format_version"
    ),
    "config-format_version-bool": Case(
        "bundle", edit_config(lambda d: d.update(format_version=True)), CONFIG, "format_version"
    ),
    "config-format_version-0": Case("bundle", edit_config(lambda d: d.update(format_version=0)), CONFIG, ">= 1"),
    "config-format_version-newer": Case("bundle", edit_config(newer_format("9.1.0")), CONFIG, "needs synthaug>=9.1.0"),
    "config-format_version-newer-unrecorded": Case(
        "bundle", edit_config(newer_format(None)), CONFIG, "needs a newer synthaug"
    ),
    "config-synthaug_version-dict": Case(
        "bundle", edit_config(lambda d: d.update(synthaug_version={"x": 1})), CONFIG, "'synthaug_version' must be str"
    ),
    "config-weights_sha256-int": Case(
        "bundle", edit_config(lambda d: d.update(weights_sha256=5)), CONFIG, "'weights_sha256' must be str"
    ),
    "config-latent_dim-1e9": Case(
        "bundle", edit_config(lambda d: d["config"].update(latent_dim=10**9)), CONFIG, "latent_dim must be in [1, 4096]"
    ),
    "config-sizes-too-many-parameters": Case(
        "bundle",
        edit_config(lambda d: d["config"].update(width=1024, latent_dim=4096, image_size=256)),
        CONFIG,
        "parameters",
    ),
    "config-num_classes-1e12": Case(
        "bundle", edit_config(lambda d: d["config"].update(num_classes=10**12)), CONFIG, "num_classes"
    ),
    "config-latent_dim-5000-digits": Case(
        "bundle",
        replace_config_text('"latent_dim": 8', f'"latent_dim": {NUMBER_5000_DIGITS}'),
        CONFIG,
        "not valid JSON",
    ),
    "config-latent_dim-str": Case(
        "bundle", edit_config(lambda d: d["config"].update(latent_dim="8")), CONFIG, "latent_dim must be an int"
    ),
    "config-latent_dim-float": Case(
        "bundle", edit_config(lambda d: d["config"].update(latent_dim=8.0)), CONFIG, "latent_dim must be an int"
    ),
    "config-latent_dim-nan": Case(
        "bundle", replace_config_text('"latent_dim": 8', '"latent_dim": NaN'), CONFIG, "latent_dim must be an int"
    ),
    "config-latent_dim-negative": Case(
        "bundle", edit_config(lambda d: d["config"].update(latent_dim=-8)), CONFIG, "latent_dim must be in"
    ),
    "config-channels-bool": Case(
        "bundle", edit_config(lambda d: d["config"].update(channels=True)), CONFIG, "channels"
    ),
    "config-image_size-not-multiple-of-4": Case(
        "bundle", edit_config(lambda d: d["config"].update(image_size=10)), CONFIG, "image_size must be a multiple of 4"
    ),
    "config-class_names-wrong-length": Case(
        "bundle", edit_config(lambda d: d["config"].update(class_names=["a"])), CONFIG, "class_names"
    ),
    "config-class_names-not-strings": Case(
        "bundle", edit_config(lambda d: d["config"].update(class_names=[1, 2, 3])), CONFIG, "class_names"
    ),
    "config-not-json": Case("bundle", write_config(b"{not json"), CONFIG, "not valid JSON"),
    "config-empty": Case("bundle", write_config(b""), CONFIG, "not valid JSON"),
    "config-not-utf8": Case("bundle", write_config(b"\xff\xfe{}"), CONFIG, "not valid JSON"),
    "config-pickle": Case("bundle", write_config(pickle.dumps({"model_type": "cgan"})), CONFIG, "not valid JSON"),
    "config-deeply-nested": Case("bundle", write_config(b"[" * 100_000 + b"]" * 100_000), CONFIG, "not valid JSON"),
    "config-json-list": Case("bundle", write_config(b"[1, 2, 3]"), CONFIG, "expected a JSON object"),
    "config-json-null": Case("bundle", write_config(b"null"), CONFIG, "expected a JSON object"),
    "config-larger-than-16MiB": Case("bundle", oversized_config, CONFIG, "larger than"),
    "config-missing": Case("bundle", remove(CONFIG), CONFIG, "file not found"),
    "config-directory": Case("bundle", make_directory(CONFIG), CONFIG, "not a regular file"),
    "config-symlink-to-device": Case("bundle", symlink(CONFIG, "/dev/zero"), CONFIG, "not a regular file"),
    "bundle-path-is-a-file": Case("bundle", path_is_a_file, WEIGHTS, "is a file"),
    "bundle-path-missing": Case("bundle", path_is_missing, "nowhere", "does not exist"),
}


# -- resume checkpoints ---------------------------------------------------------------------------


def write_checkpoint(make: Callable[[Path, Path], bytes]) -> Callable[[Path, Path], None]:
    def tamper(folder: Path, marker: Path) -> None:
        (folder / CHECKPOINT_NAME).write_bytes(make(folder, marker))

    return tamper


def edit_checkpoint(edit: Callable[[dict], object]) -> Callable[[Path, Path], None]:
    def tamper(folder: Path, marker: Path) -> None:
        state = torch.load(folder / CHECKPOINT_NAME, weights_only=True)
        edit(state)
        torch.save(state, folder / CHECKPOINT_NAME)

    return tamper


def checkpoint_with_payload(folder: Path, marker: Path) -> bytes:
    """A real checkpoint with one extra entry whose unpickling would run a command."""
    state = torch.load(folder / CHECKPOINT_NAME, weights_only=True)
    state["history"] = [OsSystem(f"touch {marker}")]
    return torch_saved(state)(folder, marker)


def wide_model_state(state: dict) -> None:
    state["model"] = synthaug.ConditionalGAN(num_classes=3, image_size=8, latent_dim=8, width=16).state_dict()


CHECKPOINT_CASES = {
    "checkpoint-pickle-os-system": Case(
        "checkpoint",
        write_checkpoint(lambda f, m: pickle.dumps({"trainer": "CGANTrainer", "x": OsSystem(f"touch {m}")})),
        CHECKPOINT_NAME,
        "cannot read checkpoint",
    ),
    "checkpoint-torch-save-os-system": Case(
        "checkpoint",
        write_checkpoint(checkpoint_with_payload),
        CHECKPOINT_NAME,
        "could run code and are never loaded (it names posix.system)",
    ),
    "checkpoint-torch-save-open-file": Case(
        "checkpoint",
        write_checkpoint(torch_saved(lambda m: {"trainer": "CGANTrainer", "x": OpensFile(str(m))})),
        CHECKPOINT_NAME,
        "it names io.open",
    ),
    "checkpoint-empty": Case("checkpoint", write_checkpoint(lambda f, m: b""), CHECKPOINT_NAME, "the file is empty"),
    "checkpoint-truncated": Case(
        "checkpoint",
        write_checkpoint(lambda f, m: (f / CHECKPOINT_NAME).read_bytes()[:500]),
        CHECKPOINT_NAME,
        "cannot read checkpoint",
    ),
    "checkpoint-not-a-dict": Case(
        "checkpoint", write_checkpoint(torch_saved([1, 2, 3])), CHECKPOINT_NAME, "holds a list"
    ),
    "checkpoint-other-trainer": Case(
        "checkpoint",
        edit_checkpoint(lambda s: s.update(trainer="CVAETrainer")),
        CHECKPOINT_NAME,
        "written by 'CVAETrainer'",
    ),
    "checkpoint-newer-format": Case(
        "checkpoint",
        edit_checkpoint(lambda s: s.update(format_version=99, synthaug_version="9.1.0")),
        CHECKPOINT_NAME,
        "needs synthaug>=9.1.0",
    ),
    "checkpoint-step-str": Case("checkpoint", edit_checkpoint(lambda s: s.update(step="7")), CHECKPOINT_NAME, "'step'"),
    "checkpoint-epoch-negative": Case(
        "checkpoint", edit_checkpoint(lambda s: s.update(epoch=-1)), CHECKPOINT_NAME, "'epoch'"
    ),
    "checkpoint-rng-missing": Case("checkpoint", edit_checkpoint(lambda s: s.pop("rng")), CHECKPOINT_NAME, "'rng'"),
    "checkpoint-rng-wrong-size": Case(
        "checkpoint",
        edit_checkpoint(lambda s: s.update(rng=torch.zeros(3, dtype=torch.uint8))),
        CHECKPOINT_NAME,
        "does not fit",
    ),
    "checkpoint-history-not-list": Case(
        "checkpoint", edit_checkpoint(lambda s: s.update(history={"step": 1})), CHECKPOINT_NAME, "'history'"
    ),
    "checkpoint-history-duplicated-step": Case(
        "checkpoint",
        edit_checkpoint(lambda s: s.update(history=s["history"] + s["history"][-1:])),
        CHECKPOINT_NAME,
        "not increasing",
    ),
    "checkpoint-history-past-step": Case(
        "checkpoint", edit_checkpoint(lambda s: s.update(step=1)), CHECKPOINT_NAME, "goes past its step"
    ),
    "checkpoint-model-wrong-shapes": Case(
        "checkpoint", edit_checkpoint(wide_model_state), CHECKPOINT_NAME, "does not fit"
    ),
    "checkpoint-optimizer-missing": Case(
        "checkpoint",
        edit_checkpoint(lambda s: s["optimizers"].pop("discriminator")),
        CHECKPOINT_NAME,
        "no entry 'discriminator'",
    ),
    "checkpoint-model-not-dict": Case(
        "checkpoint", edit_checkpoint(lambda s: s.update(model=[1])), CHECKPOINT_NAME, "'model' must be a dict"
    ),
}

CASES = {**BUNDLE_CASES, **CHECKPOINT_CASES}


def tiny_cgan(seed: int = 0) -> synthaug.ConditionalGAN:
    with seeded(seed):
        return synthaug.ConditionalGAN(num_classes=3, image_size=8, latent_dim=8, width=8)


@pytest.fixture(scope="module")
def run_template(tmp_path_factory, pattern_factory) -> Path:
    """A finished 2-epoch cGAN run: its checkpoint is the one the checkpoint cases tamper with."""
    out = tmp_path_factory.mktemp("run")
    CGANTrainer(tiny_cgan(), out, epochs=2, **SETTINGS).fit(pattern_factory(16))
    return out


@pytest.mark.parametrize("case_id", list(CASES))
def test_hostile_file_is_refused(case_id, tmp_path, run_template, pattern_factory):
    case = CASES[case_id]
    marker = tmp_path / "pwned"
    folder = tmp_path / "target"
    if case.target == "bundle":
        tiny_cgan().save_pretrained(folder)
    else:
        folder.mkdir()
        (folder / CHECKPOINT_NAME).write_bytes((run_template / CHECKPOINT_NAME).read_bytes())
    load_path = case.tamper(folder, marker) or folder

    if case.target == "bundle":
        with pytest.raises(BundleError) as info:
            synthaug.load(load_path)
    else:
        trainer = CGANTrainer(tiny_cgan(), folder, epochs=3, **SETTINGS)
        with pytest.raises(ValueError) as info:
            trainer.load_checkpoint()
    message = str(info.value)
    assert str(folder / case.file if case.file else folder) in message, message
    assert case.says in message, message
    assert "\n" not in message and len(message) < 1000, message  # one clear line
    assert not marker.exists(), "a payload ran"


def test_the_payloads_are_live(tmp_path):
    """The refusals above mean something: unpickled the ordinary way, each payload runs."""
    marker = tmp_path / "pwned"
    pickle.loads(pickle.dumps(OsSystem(f"touch {marker}")))
    assert marker.exists()
    marker.unlink()
    pickle.loads(pickle.dumps(OpensFile(str(marker)))).close()
    assert marker.exists()


@pytest.mark.slow
def test_resume_refuses_a_pickled_checkpoint_from_the_command_line(tmp_path, image_folder_factory):
    """``synthaug train --resume`` over a checkpoint carrying an os.system payload: exit 2, nothing runs."""
    data = image_folder_factory(tmp_path / "data", classes=("a", "b"), per_class=5, size=(8, 8))
    run, marker = tmp_path / "run", tmp_path / "pwned"
    run.mkdir()
    (run / CHECKPOINT_NAME).write_bytes(pickle.dumps({"trainer": "CGANTrainer", "x": OsSystem(f"touch {marker}")}))
    command = [
        sys.executable,
        "-m",
        "synthaug",
        "train",
        "cgan",
        "--data",
        str(data),
        "--out",
        str(run),
        "--image-size",
        "8",
        "--channels",
        "1",
        "--width",
        "8",
        "--latent-dim",
        "8",
        "--epochs",
        "1",
        "--batch-size",
        "4",
        "--device",
        "cpu",
        "--sample-every",
        "0",
        "--no-progress",
        "--resume",
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=900)
    assert result.returncode == 2, result.stderr
    assert f"{run / CHECKPOINT_NAME}: cannot read checkpoint" in result.stderr
    assert "Traceback" not in result.stderr
    assert not marker.exists()
    assert not (run / "model.safetensors").exists()  # nothing was trained or saved
