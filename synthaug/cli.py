"""The ``synthaug`` command line: ``demo``, ``train``, ``sample``, ``info``, ``evaluate``, ``evaluate-dae``, ``tune``.

Only this module prints. Bad values exit with status 2 and one line on stderr.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from synthaug._version import __version__
from synthaug.training.base import TrainingDiverged
from synthaug.training.distributed import DistributedRun

EXAMPLES = """\
examples:
  synthaug demo                                   # train, save, reload, sample, compare on embedded digits
  synthaug train cgan --data digits --out runs/digits-cgan --epochs 60
  synthaug train cvae --data fashion-mnist --out runs/fmnist-cvae
  synthaug train dae --data digits --out runs/digits-dae --corruptions gaussian,salt_and_pepper,cutout,blur
  synthaug sample runs/digits-cgan --out grid.png --per-class 10
  synthaug sample runs/digits-cgan --out synth.npz --n 10000
  synthaug sample runs/digits-cgan --out synth --format imagefolder --class-counts 3=500,8=500
  synthaug info runs/digits-cgan
  synthaug evaluate runs/digits-cgan --data digits --out runs/digits-cgan-report
  synthaug evaluate runs/digits-dae --data digits  # a dae bundle: the denoising table
  synthaug tune runs/digits-cgan --data digits --out runs/digits-cgan-tune   # mix, or keep real only?
"""


def _int_at_least(minimum: int):
    """An argparse type: an int >= ``minimum``, with an error naming the expectation."""
    expected = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {value}")
        return value

    return parse


_positive_int = _int_at_least(1)
_non_negative_int = _int_at_least(0)


def _probability(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1], got {text!r}")
    return value


def _val_split(text: str) -> float:
    """``--val-split``: a fraction in [0, 1) of the images to hold out."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"expected a fraction in [0, 1), got {text!r}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text}")
    return value


def _device(text: str) -> str:
    """``--device``: a torch device string this machine has (``cpu``, ``cuda``, ``cuda:1``, ``mps``)."""
    from synthaug.utils.devices import check_device

    try:
        check_device("device", text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    return text


def _train_device(text: str) -> str:
    """``train --device``: ``auto`` or a device :func:`_device` accepts."""
    return text if text == "auto" else _device(text)


def _compile_mode(text: str) -> str:
    """``--compile MODE``: a torch.compile mode."""
    from synthaug.training.base import COMPILE_MODES

    if text not in COMPILE_MODES:
        raise argparse.ArgumentTypeError(f"expected one of {', '.join(COMPILE_MODES)}, got {text!r}")
    return text


def _checkpoint_every(text: str) -> int | str:
    """``--checkpoint-every``: a number of steps, a duration (``300s``, ``10m``, ``1h``), ``epoch`` or ``auto``."""
    from synthaug.training.config import CHECKPOINT_EVERY_EXPECTED, checkpoint_interval

    value: int | str = int(text) if text.strip().isdigit() else text.strip()
    try:
        checkpoint_interval(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {CHECKPOINT_EVERY_EXPECTED}, got {text!r}") from None
    return value


def _existing_dir(text: str) -> Path:
    path = Path(text)
    if not path.is_dir():
        raise argparse.ArgumentTypeError(
            f"bundle directory {text!r} does not exist" if not path.exists() else f"{text!r} is not a directory"
        )
    return path


DEFAULT_DATA_ROOT = "~/.cache/synthaug"
BUILTIN_DATA = ("digits", "fashion-mnist", "fashion_mnist", "fmnist")
"""``--data`` values that name a dataset rather than an ImageFolder directory."""


def _add_data_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data", required=True, help="'digits' (embedded), 'fashion-mnist', or an ImageFolder directory"
    )
    parser.add_argument(
        "--data-root",
        type=Path,
        default=Path(DEFAULT_DATA_ROOT).expanduser(),
        help="where Fashion-MNIST lives (default ~/.cache/synthaug; the Debian package "
        "dataset-fashion-mnist is found automatically)",
    )


def _corruptions(text: str) -> dict[str, float]:
    """``--corruptions``: ``name[:weight],...`` -> ``{name: weight}`` (names checked by CorruptionMix)."""
    weights = {}
    for item in text.split(","):
        name, _, weight = item.strip().partition(":")
        try:
            weights[name] = float(weight) if weight else 1.0
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected name[:weight],... with numeric weights, got {item!r}") from None
    return weights


def _class_counts(text: str) -> dict[str, int]:
    """``--class-counts``: ``class=count,...`` -> ``{class: count}`` (classes checked against the bundle)."""
    counts: dict[str, int] = {}
    for item in text.split(","):
        name, sep, count = (part.strip() for part in item.partition("="))
        if not sep or not name or not count.isdigit():
            raise argparse.ArgumentTypeError(f"expected class=count,... with counts >= 0, got {item.strip()!r}")
        if name in counts:
            raise argparse.ArgumentTypeError(f"class {name!r} is given twice")
        counts[name] = int(count)
    return counts


def _add_dae_evaluate_arguments(
    parser: argparse.ArgumentParser, prefix: str = "", seed_help: str = "data split and corruption seed (default 0)"
) -> None:
    """The flags of ``evaluate-dae`` (and of ``evaluate`` for a dae; ``--seed``, ``--device``, ``--json`` for both)."""
    parser.add_argument(
        "--corruptions",
        type=_corruptions,
        default=None,
        help=f"{prefix}corruptions to evaluate, comma-separated (default: gaussian, salt_and_pepper, cutout, blur)",
    )
    parser.add_argument(
        "--num-images", type=_positive_int, default=None, help=f"{prefix}use the first N test images (default all)"
    )
    parser.add_argument("--seed", type=_non_negative_int, default=0, help=seed_help)
    parser.add_argument("--device", type=_device, default="cpu", help="torch device (default cpu)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


class _Parser(argparse.ArgumentParser):
    """argparse, but bad input gets one line (no usage dump) and still exits with status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    from synthaug.training.loggers import LOGGERS
    from synthaug.training.losses import GAN_LOSSES
    from synthaug.training.registry import available_trainers

    parser = _Parser(
        prog="synthaug",
        description="Synthetic data augmentation for image classifiers: train class-conditional GANs/VAEs, "
        "save them as bundles, and sample labelled images to mix into real training sets.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"synthaug {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress messages (INFO level)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = sub.add_parser(
        "demo",
        help="end-to-end demo on embedded digits (a few minutes on CPU)",
        description="Train a cGAN and a cVAE on scikit-learn's digits, save and reload them, draw "
        "sample grids, and compare a classifier trained on real vs real + synthetic data.",
    )
    demo.add_argument("--out", type=Path, default=Path("runs/demo"), help="output directory (default: runs/demo)")
    demo.add_argument("--gan-epochs", type=_positive_int, default=None, help="cGAN epochs (default 60)")
    demo.add_argument("--vae-epochs", type=_positive_int, default=None, help="cVAE epochs (default 60)")
    demo.add_argument(
        "--classifier-steps", type=_positive_int, default=None, help="optimiser steps per classifier (default 1500)"
    )
    demo.add_argument("--seed", type=_non_negative_int, default=0, help="seed for everything (default 0)")
    demo.add_argument("--no-progress", action="store_true", help="hide progress bars")

    train = sub.add_parser(
        "train",
        help="train a generator or denoiser and write a bundle + run files",
        description="Train a class-conditional generator (cgan, cvae) or a denoising autoencoder "
        "(dae). The --out directory becomes a loadable bundle (config.json + model.safetensors) "
        "and also receives training_config.json (everything needed to train the run again), "
        "metrics.jsonl, samples/epoch_NNN.png, loss_curves.png and checkpoint.pt. "
        "'synthaug train --config RUN/training_config.json --out NEW' re-creates a run (flags "
        "given override the file; a hand-written JSON or YAML file of the same layout works too). "
        "Under 'torchrun --nproc_per_node=N -m synthaug train ...' it trains with DDP on N "
        "processes (gloo on CPU, nccl on CUDA; rank 0 writes the files).",
    )
    # Training flags are named after the config fields they set (dest = field name) and
    # default to "not given" (SUPPRESS), so that a flag overrides a --config file only when given.
    unset = argparse.SUPPRESS
    train.add_argument(
        "model",
        nargs="?",
        choices=available_trainers(),
        default=None,
        help="model family (may come from --config instead)",
    )
    train.add_argument(
        "--config",
        type=Path,
        default=None,
        metavar="FILE",
        help="a run's training_config.json, or a JSON/YAML file of the same layout: train that run "
        "again (flags given override its values)",
    )
    train.add_argument(
        "--data",
        default=None,
        help="'digits' (embedded), 'fashion-mnist', or an ImageFolder directory (required unless --config names it)",
    )
    train.add_argument(
        "--data-root",
        type=Path,
        default=None,
        help="where Fashion-MNIST lives (default ~/.cache/synthaug; the Debian package "
        "dataset-fashion-mnist is found automatically)",
    )
    train.add_argument("--out", type=Path, required=True, help="run/bundle directory to write")
    length = train.add_mutually_exclusive_group()
    length.add_argument(
        "--epochs",
        type=_positive_int,
        default=unset,
        help="passes over the training split (default: 20, but cgan/cvae at least their min_default_steps steps)",
    )
    length.add_argument(
        "--steps",
        type=_positive_int,
        default=unset,
        help="optimiser steps instead of epochs (the last epoch may end part-way)",
    )
    train.add_argument(
        "--batch-size",
        type=_positive_int,
        default=unset,
        help="batch size (default 64); under torchrun the global batch, split across processes",
    )
    train.add_argument(
        "--lr", type=_positive_float, default=unset, help="Adam learning rate (default: 2e-4 cgan, 1e-3 cvae and dae)"
    )
    train.add_argument(
        "--latent-dim", type=_positive_int, default=None, help="latent size (default: 128 cgan, 16 cvae; not for dae)"
    )
    train.add_argument(
        "--width", type=_positive_int, default=None, help="base conv channels (default: 64 cgan, 32 cvae and dae)"
    )
    train.add_argument(
        "--image-size",
        type=_positive_int,
        default=None,
        help="square image side, multiple of 4 (default: 16 digits, 28 fashion-mnist; folders: the most common "
        "short side of their images, rounded to a multiple of 4). Folder images keep their aspect ratio: the "
        "short side is resized, the centre square kept",
    )
    train.add_argument(
        "--channels",
        type=int,
        choices=(1, 3),
        default=None,
        help="ImageFolder channels (default: 1 if every image is grayscale, else 3)",
    )
    train.add_argument(
        "--val-split",
        type=_val_split,
        default=None,
        metavar="FRACTION",
        help="ImageFolder: hold out this fraction of every class, printed, not trained on (default 0: train on "
        "every image); 'synthaug evaluate --seed S' finds the same held-out images for the run's --seed S "
        "and FRACTION 0.2",
    )
    train.add_argument(
        "--in-memory-limit-mb",
        type=_positive_float,
        default=unset,
        metavar="MB",
        help="decode the training images into memory when they take at most MB (float32; default 2048), "
        "else stream them through DataLoader workers",
    )
    train.add_argument(
        "--num-workers",
        type=_non_negative_int,
        default=unset,
        help="DataLoader worker processes that decode streamed images (default: one per core but one, at most 4)",
    )
    train.add_argument("--seed", type=_non_negative_int, default=unset, help="seed (default 0)")
    train.add_argument(
        "--device",
        type=_train_device,
        default=unset,
        help="auto (cuda if available), cpu, cuda, cuda:1, ... (default auto)",
    )
    train.add_argument(
        "--amp",
        choices=("auto", "bf16", "off"),
        default=unset,
        help="bf16 autocast: auto = on CUDA only (default auto)",
    )
    train.add_argument(
        "--channels-last",
        action=argparse.BooleanOptionalAction,
        default=unset,
        help="channels_last memory format (default: on for CUDA, off for CPU)",
    )
    train.add_argument(
        "--compile",
        nargs="?",
        const="default",
        default=unset,
        type=_compile_mode,
        metavar="MODE",
        help="torch.compile the trained networks (slow start; helps long CUDA runs); "
        "MODE: default, reduce-overhead (CUDA graphs) or max-autotune",
    )
    train.add_argument(
        "--checkpoint-every",
        type=_checkpoint_every,
        default=unset,
        metavar="N|DURATION|epoch|auto",
        help="write OUT/checkpoint.pt every N steps, every DURATION (300s, 10m, 1h), after every epoch, "
        "or auto (default: checkpoints take at most ~5%% of the time, at epoch ends); always after "
        "the last step",
    )
    train.add_argument(
        "--resume",
        action="store_true",
        help="continue from OUT/checkpoint.pt (also from the middle of an epoch) instead of starting over",
    )
    train.add_argument(
        "--class-balanced",
        action="store_true",
        default=unset,
        help="draw every class equally often in training batches (for long-tailed data)",
    )
    train.add_argument(
        "--log-every", type=_positive_int, default=unset, help="log mean losses every N steps (default 20)"
    )
    train.add_argument(
        "--loss", choices=sorted(GAN_LOSSES), default=unset, help="cgan: GAN loss (default bce, non-saturating)"
    )
    train.add_argument(
        "--diffaugment",
        default=unset,
        help="cgan: 'auto' (on below 10,000 images), 'off', or a policy like 'translation,cutout'",
    )
    train.add_argument(
        "--ema-decay", type=float, default=unset, help="cgan: decay of the EMA generator (default 0.999)"
    )
    train.add_argument("--beta", type=float, default=unset, help="cvae: weight of the KL term (default 1)")
    train.add_argument(
        "--kl-warmup-steps",
        type=_non_negative_int,
        default=unset,
        help="cvae: steps of the linear KL warm-up (default 200)",
    )
    train.add_argument(
        "--gmm-components",
        type=_non_negative_int,
        default=unset,
        help="cvae: components of the per-class latent mixture fitted after training (default 10; 0: none)",
    )
    train.add_argument(
        "--corruptions",
        type=_corruptions,
        default=unset,
        help="dae: corruptions to learn to undo, as name[:weight],... from gaussian, salt_and_pepper, "
        "cutout, blur (default: all four, equal weights)",
    )
    train.add_argument(
        "--unlabelled",
        default=None,
        metavar="DIR_OR_NAME",
        help="an unlabelled pool to learn from as well: an ImageFolder directory (its class folders are ignored) or 'digits' / "
        "'fashion-mnist' (their training images, labels dropped); cgan and cvae: a classifier trained on --data "
        "pseudo-labels it and only confident labels are kept (cvae with --semi-supervised m2: the VAE infers "
        "the labels as it trains); dae: all its images are used",
    )
    train.add_argument(
        "--semi-supervised",
        choices=("pseudo-labels", "m2"),
        default=unset,
        help="cvae: how --unlabelled is used: pseudo-labels (default) or m2 (the VAE's own classifier q(y|x) "
        "infers the labels as it trains; Kingma et al. 2014)",
    )
    train.add_argument(
        "--m2-alpha",
        type=float,
        default=unset,
        help="cvae, m2: weight of the labelled images' classification loss (default 0.1 x pixels per image)",
    )
    train.add_argument(
        "--pseudo-label-threshold",
        type=_probability,
        default=unset,
        help="confidence a pseudo-label of an --unlabelled image needs (default 0.9)",
    )
    train.add_argument(
        "--pseudo-label-steps",
        type=_positive_int,
        default=unset,
        help="training steps of the classifier that pseudo-labels --unlabelled (default 1000)",
    )
    train.add_argument(
        "--sample-every",
        type=_non_negative_int,
        default=unset,
        help="write a sample grid every N epochs (0: only at the end)",
    )
    train.add_argument(
        "--logger",
        choices=LOGGERS,
        default=unset,
        help="also log the losses and sample grids to TensorBoard in OUT/tensorboard/ (tensorboard; needs "
        "pip install 'synthaug[tensorboard]') or not (none, the default)",
    )
    train.add_argument(
        "--no-progress", dest="progress", action="store_false", default=unset, help="hide the progress bar"
    )
    train.set_defaults(flag_names={a.dest: a.option_strings[0] for a in train._actions if a.option_strings})

    sample = sub.add_parser(
        "sample",
        help="sample a bundle to a PNG grid, an .npz array file or an ImageFolder tree",
        description="Sample a bundle. --format grid (the default for --out *.png) writes a "
        "labelled grid, rows = classes; npz (the default for *.npz) writes images (uint8 "
        "[N, H, W, C]), labels (int64 [N]) and class_names; imagefolder (the default for a name "
        "without a suffix) writes OUT/<class>/<index>.png. Item i is SyntheticDataset(bundle, N, "
        "seed=SEED)[i]. Output appears whole or not at all; an existing OUT needs --force. "
        "--shards K --shard-index I writes shard I of K of the npz set into the directory OUT "
        "(shard-0000I-of-0000K.npz + .json; manifest.json once all are there); under torchrun "
        "each rank writes its own shard (K = WORLD_SIZE, I = RANK) and --device cuda means "
        "cuda:LOCAL_RANK. Read back with synthaug.data.ExportedDataset(OUT).",
    )
    sample.add_argument("bundle", type=_existing_dir, help="bundle directory")
    sample.add_argument("--out", type=Path, required=True, help="output: a .png grid, an .npz file or a directory")
    sample.add_argument(
        "--format",
        choices=("grid", "npz", "imagefolder"),
        default=None,
        help="output format (default from --out: .png grid, .npz npz, no suffix imagefolder)",
    )
    sample.add_argument(
        "--n",
        "--num-samples",
        dest="num_samples",
        type=_positive_int,
        default=None,
        metavar="N",
        help="npz/imagefolder: number of images, equal per class (default 1000, or the sum of --class-counts)",
    )
    sample.add_argument(
        "--class-counts",
        type=_class_counts,
        default=None,
        metavar="CLASS=COUNT,...",
        help="npz/imagefolder: images per class as class=count,... with class names or indices, "
        "e.g. 0=100,3=500 or Bag=500,Sneaker=200 (classes left out get none)",
    )
    sample.add_argument("--per-class", type=_positive_int, default=None, help="grid: columns per class (default 8)")
    sample.add_argument("--seed", type=_non_negative_int, default=0, help="seed (default 0)")
    sample.add_argument(
        "--truncation", type=_positive_float, default=1.0, help="latent temperature in (0, 2] (default 1)"
    )
    sample.add_argument(
        "--force", action="store_true", help="replace an existing OUT (once the new output is complete)"
    )
    sample.add_argument("--device", type=_device, default="cpu", help="torch device (default cpu)")
    sample.add_argument(
        "--shards",
        type=_positive_int,
        default=None,
        metavar="K",
        help="npz: split the set into K disjoint shards and write one into the directory OUT "
        "(default under torchrun: WORLD_SIZE)",
    )
    sample.add_argument(
        "--shard-index",
        type=_non_negative_int,
        default=None,
        metavar="I",
        help="with --shards: which shard to write, 0..K-1 (default under torchrun: RANK)",
    )
    sample.add_argument("--no-progress", action="store_true", help="hide the progress bar")

    info = sub.add_parser(
        "info",
        help="describe a bundle",
        description="Print a bundle's model type, image shape "
        "and parameter count, and its classes and latent size where the model has them.",
    )
    info.add_argument("bundle", type=_existing_dir, help="bundle directory")
    info.add_argument("--json", action="store_true", help="print JSON instead of text")

    evaluate = sub.add_parser(
        "evaluate",
        help="measure a bundle against real data: a generator report, or a dae's denoising table",
        description="The bundle's model type decides. A generator (cgan, cvae) is measured against --data with a "
        "SmallCNN evaluator trained on its training split (cached by a hash of the data): label fidelity, Fréchet "
        "distance and KID in the evaluator's feature space, precision/recall/density/coverage, CAS (train on "
        "samples, test on real) and a memorisation check, overall and per class; --out receives report.md, "
        "report.json, a per-class label fidelity chart and one sample grid per class. A dae gets the evaluate-dae "
        "table. Use the training run's --seed: it picks the held-out split of digits and ImageFolder data.",
    )
    evaluate.add_argument("bundle", nargs="?", type=_existing_dir, default=None, help="bundle directory (or --bundle)")
    evaluate.add_argument(
        "--bundle",
        dest="bundle_option",
        type=_existing_dir,
        default=None,
        metavar="DIR",
        help="bundle directory (the same as the positional BUNDLE)",
    )
    _add_data_arguments(evaluate)
    evaluate.add_argument(
        "--out",
        type=Path,
        default=None,
        help="generators (required): report directory to write; an existing one needs --force",
    )
    evaluate.add_argument(
        "--force", action="store_true", help="generators: replace an existing --out when the new report is complete"
    )
    evaluate.add_argument(
        "--num-per-class", type=_positive_int, default=None, help="generators: samples per class (default 200)"
    )
    evaluate.add_argument(
        "--classifier-steps",
        type=_positive_int,
        default=None,
        help="generators: optimiser steps of the evaluator and the CAS classifier (default 1000)",
    )
    evaluate.add_argument(
        "--k",
        type=_positive_int,
        default=None,
        help="generators: neighbours for precision/recall/density/coverage (default 5)",
    )
    evaluate.add_argument(
        "--cache-dir",
        type=Path,
        default=None,
        help="generators: where cached evaluators live (default $SYNTHAUG_CACHE, else ~/.cache/synthaug)",
    )
    evaluate.add_argument("--no-progress", action="store_true", help="generators: hide the classifiers' progress bars")
    _add_dae_evaluate_arguments(
        evaluate,
        prefix="dae: ",
        seed_help="data split seed, and the corruptions' (dae) or the samples' (generators) (default 0)",
    )

    evaluate_dae = sub.add_parser(
        "evaluate-dae",
        help="PSNR/SSIM of corrupted vs denoised held-out images, per corruption",
        description="Corrupt the test split of --data with each corruption, denoise it with "
        "the bundle's denoising autoencoder, and print PSNR, MSE and SSIM of the corrupted and "
        "the denoised images against the clean ones. Use the training run's --seed: it picks "
        "the held-out split of digits and ImageFolder data.",
    )
    evaluate_dae.add_argument("bundle", type=_existing_dir, help="bundle directory of a dae")
    _add_data_arguments(evaluate_dae)
    _add_dae_evaluate_arguments(evaluate_dae)

    tune = sub.add_parser(
        "tune",
        help="does synthetic data help? run the guard (synthaug.tune) on your data: mix or keep real only",
        description="Hold out a stratified validation split of --data (--val-fraction of every class), train the "
        "same classifier on the rest alone (real only) and mixed with the bundle's samples by each setting of "
        "synthaug.tune's default grid (--seeds runs of --steps each), and keep a setting only when it beats real only "
        "by more than the noise. --out receives tune.md (the evidence table), tune.json and tune.png (validation "
        "score per setting, real only marked); stdout gets one line, the verdict. --data is read at the bundle's "
        "image size and must have its channels; 'digits' and 'fashion-mnist' are tuned on their training split "
        "(their test split stays unseen).",
    )
    tune.add_argument("bundle", type=_existing_dir, help="generator bundle directory (cgan, cvae)")
    _add_data_arguments(tune)
    tune.add_argument(
        "--out",
        type=Path,
        required=True,
        help="directory to write tune.md, tune.json and tune.png into; an existing one needs --force",
    )
    tune.add_argument("--force", action="store_true", help="replace an existing --out once the new one is complete")
    tune.add_argument(
        "--classifier",
        choices=("small-cnn",),
        default="small-cnn",
        help="the classifier every run trains (default small-cnn: synthaug.metrics.SmallCNN, Adam)",
    )
    tune.add_argument(
        "--steps", type=_positive_int, default=500, help="optimiser steps of every classifier run (default 500)"
    )
    tune.add_argument(
        "--seeds",
        type=_positive_int,
        default=3,
        help="runs per setting; their spread is part of the noise a gain must beat (default 3)",
    )
    tune.add_argument(
        "--val-fraction",
        type=float,
        default=0.2,
        metavar="FRACTION",
        help="share of every class held out for validation, in (0, 1) (default 0.2)",
    )
    tune.add_argument(
        "--seed",
        type=_non_negative_int,
        default=0,
        help="seed of the split, the classifiers and the samples (default 0)",
    )
    tune.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    # What _train_data_source reads besides --data/--data-root: tune takes the image size
    # and channels from the bundle and holds out its own validation split.
    tune.set_defaults(image_size=None, channels=None, unlabelled=None, val_split=None)
    return parser


def _check_run_dir(flag: str, path: Path) -> None:
    """Refuse an output directory that exists as a file, before anything slow runs."""
    if path.exists() and not path.is_dir():
        raise ValueError(f"{flag} {str(path)!r} is a file; expected a directory to write into")


def _cmd_demo(args: argparse.Namespace) -> None:
    from synthaug.demo import DemoSettings, run_demo

    _check_run_dir("--out", args.out)
    settings = DemoSettings(out_dir=args.out, seed=args.seed, progress=not args.no_progress)
    for name in ("gan_epochs", "vae_epochs", "classifier_steps"):
        if getattr(args, name) is not None:
            setattr(settings, name, getattr(args, name))
    print(f"synthaug demo: training on embedded digits, writing to {settings.out_dir}/", flush=True)
    report = run_demo(settings)
    print(
        f"\ntrain {report.train_size} real images, test {report.test_size}; "
        f"each classifier trained for {settings.classifier_steps} steps\n"
    )
    print(report.table())
    print("\noutputs:")
    for name, path in report.files.items():
        print(f"  {name:<12} {path}")


CLI_TRAINING_DEFAULTS = {"device": "auto"}
"""Where ``synthaug train`` differs from the config classes' defaults (for fields neither a flag nor --config gives)."""


def _training_flags(args: argparse.Namespace, model_type: str) -> dict:
    """The training options given as flags, refusing those the family's config does not have."""
    from dataclasses import fields

    from synthaug.training.registry import available_trainers, get_trainer_class

    families = {name: get_trainer_class(name) for name in available_trainers()}
    own = {f.name for f in fields(families[model_type].config_class)}
    given = {}
    for name, value in vars(args).items():
        owners = [cls for cls in families.values() if name in {f.name for f in fields(cls.config_class)}]
        if not owners:
            continue  # not a training option (--out, --data, --latent-dim, ...)
        if name not in own:
            flag = args.flag_names.get(name, "--" + name.replace("_", "-"))
            kinds = " and ".join(f"{cls.kind} ({family})" for family, cls in families.items() if cls in owners)
            raise ValueError(f"{flag} applies to {kinds} only, not {model_type}")
        given[name] = value
    return given


def _train_model_type(args: argparse.Namespace, run) -> str:
    from synthaug.training.registry import available_trainers

    if run is not None and args.model is not None and args.model != run.model_type:
        raise ValueError(
            f"model {args.model!r} differs from {run.model_type!r} in --config {str(args.config)!r}; "
            "a run's config fits its own model family only"
        )
    model_type = args.model or (run.model_type if run is not None else None)
    if model_type is None:
        raise ValueError(f"name the model family to train ({', '.join(available_trainers())}), or give --config FILE")
    return model_type


def _train_data_source(args: argparse.Namespace, run) -> dict:
    """``source``, ``data_root``, ``image_size``, ``channels``: flags first, then --config's ``data``."""
    recorded = dict(run.data or {}) if run is not None else {}
    source = args.data if args.data is not None else recorded.get("source")
    if source is None:
        where = f"; --config {str(args.config)!r} records no data source" if run is not None else ""
        raise ValueError(f"--data is required: 'digits', 'fashion-mnist' or an ImageFolder directory{where}")
    root = args.data_root if args.data_root is not None else recorded.get("data_root")
    return {
        "source": source,
        "data_root": str(Path(root or DEFAULT_DATA_ROOT).expanduser()),
        "image_size": args.image_size if args.image_size is not None else recorded.get("image_size"),
        "channels": args.channels if args.channels is not None else recorded.get("channels"),
        "unlabelled": args.unlabelled if args.unlabelled is not None else recorded.get("unlabelled"),
        "val_split": args.val_split if args.val_split is not None else recorded.get("val_split") or 0.0,
    }


@dataclass
class _TrainingSet:
    """What ``synthaug train`` trains on: the training part of --data and what is held out of it."""

    name: str
    class_names: list[str]
    image_shape: tuple[int, int, int]
    train: Any  # a LabelledImages (built-in sets) or a Dataset (folders)
    held_out: Any  # the same kinds, or None

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def preview_images(self, count: int) -> Any:
        """Up to ``count`` held-out images ``[N, C, H, W]`` (the denoiser's progress pictures), or None."""
        import torch

        if self.held_out is None or not len(self.held_out):
            return None
        if hasattr(self.held_out, "images"):
            return self.held_out.images
        return torch.stack([self.held_out[i][0] for i in range(min(count, len(self.held_out)))])


def _builtin_training_set(source: dict, seed: int, speak: bool) -> _TrainingSet:
    from synthaug.data.real import load_real_data

    if source["val_split"] and source["source"] in BUILTIN_DATA:
        raise ValueError(f"--val-split applies to ImageFolder directories; {source['source']} keeps its own test split")
    data = load_real_data(
        source["source"],
        data_root=source["data_root"],
        image_size=source["image_size"],
        channels=source["channels"],
        seed=seed,
    )
    if speak:
        print(
            f"data: {data.name}, training on its {len(data.train):,} training images; its test split of "
            f"{len(data.test):,} images is held out",
            flush=True,
        )
    return _TrainingSet(data.name, data.class_names, data.image_shape, data.train, data.test)


def _folder_training_set(source: dict, seed: int, speak: bool) -> _TrainingSet:
    """An ImageFolder: shape inferred from its images unless given, every image trained on unless --val-split."""
    import numpy as np
    from torch.utils.data import Subset

    from synthaug.data.folder import image_folder_dataset, inspect_image_folder
    from synthaug.data.real import stratified_split_indices

    path = source["source"]
    size, channels = source["image_size"], source["channels"]
    if size is None or channels is None:
        found = inspect_image_folder(path)
        given = [f"--{flag} {value}" for flag, value in (("image-size", size), ("channels", channels)) if value]
        size, channels = size or found.image_size, channels or found.channels
        if speak:
            overrides = f"; given: {', '.join(given)}" if given else "; override with --image-size / --channels"
            print(f"data: {found.describe()}{overrides}", flush=True)
    elif speak:
        print(f"data: image size {size}, channels {channels} (given)", flush=True)
    dataset = image_folder_dataset(path, size, channels)
    fraction = source["val_split"]
    train, held_out = dataset, None
    if fraction:
        kept, held = stratified_split_indices(np.asarray(dataset.targets), fraction, seed)
        train, held_out = Subset(dataset, kept.tolist()), Subset(dataset, held.tolist())
    if speak:
        if held_out is None:
            print(
                f"data: training on all {len(dataset):,} images in {len(dataset.classes)} classes "
                "(nothing held out; --val-split FRACTION holds some out)",
                flush=True,
            )
        else:
            print(
                f"data: held out for validation {len(held_out):,} of {len(dataset):,} images (--val-split "
                f"{fraction:g}, seed {seed}); training on {len(train):,}",
                flush=True,
            )
    return _TrainingSet(Path(path).name, list(dataset.classes), (channels, size, size), train, held_out)


def _recorded_source(source: str) -> str:
    """An image directory by its absolute path (training_config.json works from anywhere), a name as it is."""
    return str(Path(source).resolve()) if source not in BUILTIN_DATA and Path(source).is_dir() else source


def _unlabelled_pool(source: dict, image_size: int, channels: int, seed: int):
    """The --unlabelled images: a built-in set's training split, or every image of a directory."""
    import torch

    from synthaug.data.real import load_real_data

    if source["unlabelled"] is None:
        return None
    pool = load_real_data(
        source["unlabelled"], data_root=source["data_root"], image_size=image_size, channels=channels, seed=seed
    )
    if source["unlabelled"] in BUILTIN_DATA:
        return pool.train.images  # the test split stays unseen, as for --data
    return torch.cat([pool.train.images, pool.test.images])


def _recorded_model(cls: Any, recorded: dict) -> dict:
    """A --config file's model options; one recorded whole by an older synthaug means its fields' old defaults.

    (A complete config without ``stages`` was written before models scaled with the image
    size, and so means the two-stage layout, ``cls.legacy_config``.)
    """
    legacy = getattr(cls, "legacy_config", {})
    complete = all(name in recorded for name in cls.config_fields if name not in legacy)
    return {**legacy, **recorded} if recorded and complete else dict(recorded)


def _cmd_train(args: argparse.Namespace) -> None:
    from synthaug.data.real import LabelledImages
    from synthaug.data.streaming import decoded_megabytes
    from synthaug.generators.registry import get_generator_class
    from synthaug.training.config import load_run_config
    from synthaug.training.loggers import require_logger
    from synthaug.training.registry import get_trainer_class
    from synthaug.utils.seeding import seeded

    _check_run_dir("--out", args.out)
    run = load_run_config(args.config, defaults=CLI_TRAINING_DEFAULTS) if args.config is not None else None
    model_type = _train_model_type(args, run)
    cls, trainer_cls = get_generator_class(model_type), get_trainer_class(model_type)
    flags = _training_flags(args, model_type)
    for flag, key in (("--latent-dim", "latent_dim"), ("--width", "width")):
        if getattr(args, key) is not None and key not in cls.config_fields:
            raise ValueError(f"{flag} does not apply to {model_type}")
    base = run.training if run is not None else CLI_TRAINING_DEFAULTS
    config = trainer_cls.config_class.from_options(base, **flags)
    require_logger(config.logger)  # --logger tensorboard without the package: fail before loading data
    source = _train_data_source(args, run)
    speak = DistributedRun.from_env().is_main  # under torchrun, rank 0 speaks for all processes
    if source["source"] in BUILTIN_DATA or not Path(source["source"]).is_dir():
        data = _builtin_training_set(source, config.seed, speak)
    else:
        data = _folder_training_set(source, config.seed, speak)
    channels, size, _ = data.image_shape
    known = dict(
        num_classes=data.num_classes,
        channels=channels,
        image_size=size,
        class_names=data.class_names,
        latent_dim=args.latent_dim,
        width=args.width,
    )
    # Each family takes the arguments its config declares (the dae has no classes or latent);
    # --config's model options come first, what the data and flags say on top.
    model_args = {
        **_recorded_model(cls, run.model if run is not None else {}),
        **{k: v for k, v in known.items() if k in cls.config_fields and v is not None},
    }
    if getattr(config, "semi_supervised", None) == "m2":
        model_args["label_classifier"] = True  # M2 trains the VAE's own classifier q(y|x)
    with seeded(config.seed):
        model = cls(**model_args)
    # The progress images of a trainer that shows held-out images (the denoiser's): the test split.
    extra = {"preview_images": data.preview_images(config.samples_per_class)} if trainer_cls.uses_preview_images else {}
    trainer = trainer_cls(model, args.out, config, **extra)
    # Recorded in training_config.json: an ImageFolder by its absolute path, so the file works from anywhere.
    trainer.data_source = {
        **source,
        "source": _recorded_source(source["source"]),
        "unlabelled": _recorded_source(source["unlabelled"]) if source["unlabelled"] is not None else None,
        "image_size": size,
        "channels": channels,
    }
    unlabelled = _unlabelled_pool(source, size, channels, config.seed)
    main = trainer.dist.is_main
    train = trainer.training_data(data.train)  # decoded into memory, or streamed: said below
    if main:
        world = f", {trainer.dist.world_size} processes" if trainer.dist.enabled else ""
        megabytes = decoded_megabytes(len(train), train.image_shape)
        how = (
            f"held in memory, {megabytes:,.0f} MB"
            if isinstance(train, LabelledImages)
            else f"streamed by {train.num_workers} DataLoader workers: {megabytes:,.0f} MB decoded > "
            f"--in-memory-limit-mb {config.in_memory_limit_mb:g}"
        )
        print(
            f"training {model_type} on {len(train):,} {data.name} images {list(train.image_shape)}, "
            f"{data.num_classes} classes ({how}; {trainer.device}{world})",
            flush=True,
        )
    result = trainer.fit(train, resume=args.resume, unlabelled=unlabelled)
    if main and trainer.pseudo_labels is not None:
        kept = trainer.pseudo_labels.summary(data.num_classes)
        print(
            f"unlabelled pool: kept {kept['kept']} of {kept['pool']} images with a pseudo-label of confidence "
            f">= {kept['threshold']} ({str(result.out_dir)}/pseudo_labels.json)"
        )
    if not main:
        return
    losses = ", ".join(f"{k}={v:.4f}" for k, v in result.final_losses.items())
    print(f"done: {result.steps} steps in {result.seconds:.1f}s ({losses})")
    print(f"bundle and run files in {result.out_dir}/ (load with synthaug.load({str(result.out_dir)!r}))")


SAMPLE_FORMATS = {".png": "grid", ".npz": "npz", "": "imagefolder"}
"""The ``--format`` each ``--out`` suffix implies."""


def _sample_format(args: argparse.Namespace, sharded: bool = False) -> str:
    if sharded:
        # Shards go into a directory: only npz can be split, whatever --out's name suggests.
        fmt = args.format or ("grid" if args.out.suffix.lower() == ".png" else "npz")
        if fmt != "npz":
            given = f"--format {fmt}" if args.format else f"--out {str(args.out)!r} (a {fmt})"
            raise ValueError(
                f"{given} cannot be sharded: --shards (and torchrun) write npz shards into the directory --out"
            )
        if args.out.suffix.lower() == ".npz":
            raise ValueError(
                f"--out {str(args.out)!r} names an .npz file, but shards go into a directory: "
                "give --out a name without .npz"
            )
        return fmt
    if args.format is not None:
        return args.format
    fmt = SAMPLE_FORMATS.get(args.out.suffix.lower(), "imagefolder" if args.out.is_dir() else None)
    if fmt is None:
        raise ValueError(
            f"cannot tell the format of --out {str(args.out)!r}: use .png (grid), .npz (arrays), a name "
            "without a suffix (ImageFolder directory), or pass --format"
        )
    return fmt


def _sample_shard(args: argparse.Namespace, launch: DistributedRun) -> tuple[int, int] | None:
    """``(num_shards, shard_index)`` from --shards/--shard-index, else one shard per torchrun rank; ``None``: no sharding."""
    if args.shards is None:
        if args.shard_index is not None:
            raise ValueError(f"--shard-index {args.shard_index} needs --shards K (the number of shards)")
        return (launch.world_size, launch.rank) if launch.enabled else None
    if args.shard_index is None:
        if launch.enabled and launch.world_size == args.shards:
            return args.shards, launch.rank
        raise ValueError(f"--shards {args.shards} needs --shard-index I (which shard to write, 0..{args.shards - 1})")
    if args.shard_index >= args.shards:
        raise ValueError(f"--shard-index {args.shard_index} must be < --shards {args.shards} (0..{args.shards - 1})")
    return args.shards, args.shard_index


def _check_sample_out(args: argparse.Namespace, shard: tuple[int, int] | None) -> None:
    """Refuse an --out that exists (or this shard, for shards) or that would replace the bundle, before loading."""
    from synthaug.sharding import shard_name
    from synthaug.utils.atomic import check_output

    if shard is not None and args.out.exists() and not args.out.is_dir():
        raise ValueError(f"--out {str(args.out)!r} is a file; shards go into a directory")
    target = args.out if shard is None else args.out / shard_name(shard[1], shard[0])
    try:
        check_output(target, args.force)
    except FileExistsError as e:
        raise ValueError(f"{str(target)!r} already exists; pass --force to replace it") from e
    if shard is not None and args.out.resolve() == args.bundle.resolve():
        raise ValueError(
            f"--out {str(args.out)!r} is the bundle directory; write the shards into a directory of their own"
        )
    # Shards are added to a directory, never replace it; other outputs (with --force) replace --out.
    if shard is None and args.out.resolve() in (args.bundle.resolve(), *args.bundle.resolve().parents):
        raise ValueError(f"--out {str(args.out)!r} would replace the bundle {str(args.bundle)!r}")


def _sample_class_counts(gen, args: argparse.Namespace) -> tuple[int | None, dict | None]:
    """``(num_samples, class_counts)`` for the dataset: --class-counts keys are class names if the bundle has them, else indices."""
    class_counts = None
    if args.class_counts is not None:
        names = gen.class_names or []
        class_counts = {k if k in names or not k.isdigit() else int(k): v for k, v in args.class_counts.items()}
    num_samples = 1000 if class_counts is None and args.num_samples is None else args.num_samples
    return num_samples, class_counts


def _num_items(num_samples: int | None, class_counts: dict | None) -> int:
    """How many images a sample command writes: ``num_samples``, else the sum of ``class_counts``."""
    if num_samples:
        return num_samples
    assert class_counts is not None  # _sample_class_counts gives one of the two
    return sum(class_counts.values())


def _cmd_sample(args: argparse.Namespace) -> None:
    from synthaug.export import export_grid, export_imagefolder, export_npz
    from synthaug.generators.base import GeneratorProtocol
    from synthaug.io import load

    launch = DistributedRun.from_env()  # under torchrun: one shard per process
    shard = _sample_shard(args, launch)
    fmt = _sample_format(args, sharded=shard is not None)
    other_formats = (
        {"--n": args.num_samples, "--class-counts": args.class_counts}
        if fmt == "grid"
        else {"--per-class": args.per_class}
    )
    for flag, value in other_formats.items():
        if value is not None:
            raise ValueError(f"{flag} does not apply to --format {fmt}")
    _check_sample_out(args, shard)  # before the model loads or anything is sampled
    gen = load(args.bundle, device=launch.device(args.device))
    if not isinstance(gen, GeneratorProtocol):
        raise ValueError(
            f"{args.bundle} holds a {gen.model_type} model, which does not sample images; "
            "sample needs a generator bundle (cgan, cvae)"
        )
    if fmt == "grid":
        per_class = args.per_class or 8
        export_grid(gen, args.out, per_class=per_class, seed=args.seed, truncation=args.truncation, force=args.force)
        print(f"wrote a {gen.num_classes} x {per_class} sample grid to {args.out}")
        return
    num_samples, class_counts = _sample_class_counts(gen, args)
    if shard is not None:
        _write_sample_shard(
            gen, args, shard, num_samples, class_counts, progress=not args.no_progress and launch.is_main
        )  # one progress bar: rank 0's
        return
    export = {"npz": export_npz, "imagefolder": export_imagefolder}[fmt]
    export(
        gen,
        args.out,
        num_samples=num_samples,
        class_counts=class_counts,
        seed=args.seed,
        truncation=args.truncation,
        force=args.force,
        progress=not args.no_progress,
    )
    n = _num_items(num_samples, class_counts)
    where = (
        f"class folders in {args.out}/" if fmt == "imagefolder" else f"{args.out} (uint8 [N, H, W, C] + int64 labels)"
    )
    print(f"wrote {n} images {list(gen.image_shape)} to {where}")


def _write_sample_shard(
    gen,
    args: argparse.Namespace,
    shard: tuple[int, int],
    num_samples: int | None,
    class_counts: dict | None,
    progress: bool,
) -> None:
    from synthaug.data.exported import MANIFEST_NAME
    from synthaug.sharding import export_npz_shard, shard_range

    num_shards, index = shard
    path = export_npz_shard(
        gen,
        args.out,
        index,
        num_shards,
        num_samples=num_samples,
        class_counts=class_counts,
        seed=args.seed,
        truncation=args.truncation,
        force=args.force,
        progress=progress,
    )
    start, stop = shard_range(_num_items(num_samples, class_counts), num_shards, index)
    print(
        f"wrote shard {index} of {num_shards} (items [{start}, {stop}): {stop - start} images "
        f"{list(gen.image_shape)}) to {path}"
    )
    if (args.out / MANIFEST_NAME).exists():  # written by whichever shard finished last
        print(f"all {num_shards} shards present: {args.out / MANIFEST_NAME}")


def _cmd_info(args: argparse.Namespace) -> None:
    from synthaug.generators.base import count_parameters
    from synthaug.io import load
    from synthaug.training.config import TRAINING_CONFIG_NAME, load_run_config

    model = load(args.bundle)
    info: dict[str, Any] = {"path": str(args.bundle), "model_type": model.model_type}
    # Only what this model has: a denoiser has no classes and no latent.
    for key in ("num_classes", "class_names", "image_shape", "latent_dim"):
        if hasattr(model, key):
            value = getattr(model, key)
            info[key] = list(value) if isinstance(value, tuple) else value
    info.update(parameters=count_parameters(model), config=model.config)
    # A training run's directory also says how it was trained.
    run_file = args.bundle / TRAINING_CONFIG_NAME
    run = load_run_config(run_file).to_dict() if run_file.exists() else None
    if run is not None:
        info["training_config"] = run
    if args.json:
        print(json.dumps(info, indent=2))
        return
    for key, value in info.items():
        if key not in ("parameters", "config", "training_config"):
            print(f"{key:<12} {value}")
    print(f"{'parameters':<12} {info['parameters']:,}")
    if run is not None:
        print(f"\ntraining config ({run_file}; train it again with: synthaug train --config {run_file} --out DIR)")
        data = run["data"]
        if data is not None:
            print(f"  {'data':<18} " + ", ".join(f"{k}={v}" for k, v in data.items() if v is not None))
        for key, value in run["training"].items():
            print(f"  {key:<18} {json.dumps(value)}")


def _evaluate_dae(model, bundle: Path, args: argparse.Namespace) -> None:
    from synthaug.data.real import load_real_data
    from synthaug.metrics.denoising import denoising_report, report_table

    channels, size, _ = model.image_shape
    data = load_real_data(args.data, data_root=args.data_root, image_size=size, channels=channels, seed=args.seed)
    clean = data.test.images[: args.num_images]
    report = denoising_report(model, clean, args.corruptions, seed=args.seed)
    if args.json:
        print(
            json.dumps(
                {"bundle": str(bundle), "data": data.name, "images": len(clean), "seed": args.seed, "report": report},
                indent=2,
            )
        )
        return
    print(f"{len(clean)} held-out {data.name} images {list(data.image_shape)}, seed {args.seed}\n")
    print(report_table(report))


def _cmd_evaluate_dae(args: argparse.Namespace) -> None:
    from synthaug.generators.dae import DenoisingAutoencoder
    from synthaug.io import load

    model = load(args.bundle, device=args.device)
    if not isinstance(model, DenoisingAutoencoder):
        raise ValueError(f"{args.bundle} holds a {model.model_type} model, not a dae")
    _evaluate_dae(model, args.bundle, args)


GENERATOR_EVALUATE_FLAGS = {
    "--out": "out",
    "--force": "force",
    "--num-per-class": "num_per_class",
    "--classifier-steps": "classifier_steps",
    "--k": "k",
    "--cache-dir": "cache_dir",
}
DAE_EVALUATE_FLAGS = {"--corruptions": "corruptions", "--num-images": "num_images"}
"""``evaluate`` flags that apply to one kind of bundle only (a flag for the other kind is an error)."""


def _refuse_flags(args: argparse.Namespace, flags: dict[str, str], kind: str) -> None:
    for flag, key in flags.items():
        if getattr(args, key) not in (None, False):
            raise ValueError(f"{flag} applies to {kind} bundles only")


def _cmd_evaluate(args: argparse.Namespace) -> None:
    from synthaug.generators.base import GeneratorProtocol
    from synthaug.generators.dae import DenoisingAutoencoder
    from synthaug.io import load

    if args.bundle is None and args.bundle_option is None:
        raise ValueError("name the bundle to evaluate: synthaug evaluate BUNDLE ... (or --bundle BUNDLE)")
    if (
        args.bundle is not None
        and args.bundle_option is not None
        and args.bundle.resolve() != args.bundle_option.resolve()
    ):
        raise ValueError(f"two different bundles given: {str(args.bundle)!r} and --bundle {str(args.bundle_option)!r}")
    bundle = args.bundle if args.bundle is not None else args.bundle_option
    model = load(bundle, device=args.device)
    if isinstance(model, DenoisingAutoencoder):
        _refuse_flags(args, GENERATOR_EVALUATE_FLAGS, "generator (cgan, cvae)")
        _evaluate_dae(model, bundle, args)
        return
    if not isinstance(model, GeneratorProtocol):
        raise ValueError(f"{bundle} holds a {model.model_type} model, which evaluate cannot measure")
    _refuse_flags(args, DAE_EVALUATE_FLAGS, "dae")
    _evaluate_generator(model, bundle, args)


def _evaluate_generator(gen, bundle: Path, args: argparse.Namespace) -> None:
    from synthaug.data.real import load_real_data
    from synthaug.metrics.evaluate import evaluate_generator
    from synthaug.metrics.report import json_ready, write_report
    from synthaug.utils.atomic import atomic_output, check_output

    if args.out is None:
        raise ValueError(
            "--out is required for a generator bundle: the directory for report.md, report.json and figures"
        )
    try:
        check_output(args.out, args.force)  # before anything slow runs
    except FileExistsError as e:
        raise ValueError(f"{str(args.out)!r} already exists; pass --force to replace it") from e
    if args.out.resolve() in (bundle.resolve(), *bundle.resolve().parents):
        raise ValueError(f"--out {str(args.out)!r} would replace the bundle {str(bundle)!r}")
    channels, size, _ = gen.image_shape
    data = load_real_data(args.data, data_root=args.data_root, image_size=size, channels=channels, seed=args.seed)
    options = {
        key: getattr(args, key) for key in ("num_per_class", "classifier_steps", "k") if getattr(args, key) is not None
    }
    if not args.json:
        print(f"evaluating {bundle} ({gen.model_type}) on {data!r}", flush=True)
    report = evaluate_generator(
        gen,
        data,
        seed=args.seed,
        cache_dir=args.cache_dir,
        device=args.device,
        progress=not args.no_progress,
        **options,
    )
    with atomic_output(args.out, directory=True, force=args.force) as tmp:
        write_report(report, tmp, gen, title=f"Evaluation of {bundle.name} on {data.name}")
    if args.json:
        print(json.dumps(json_ready(report), indent=2))
        return
    overall, extractor, mem = report["overall"], report["feature_extractor"], report["memorisation"]
    print(
        f"feature extractor: {extractor['description']} "
        f"({'from the cache' if extractor['from_cache'] else 'trained now, cached'})"
    )
    print(
        f"label fidelity {overall['label_fidelity']:.3f} (evaluator on real test: {overall['real_accuracy']:.3f})  "
        f"CAS {overall['cas']:.3f}"
    )
    print(
        f"Fréchet distance {overall['frechet_distance']:.3f}  KID {overall['kid']:.4g}  precision "
        f"{overall['precision']:.3f}  recall {overall['recall']:.3f}  density {overall['density']:.3f}  "
        f"coverage {overall['coverage']:.3f}"
    )
    print(
        f"near copies {mem['near_copy_share']:.1%}  exact copies {mem['exact_copies']}"
        + ("  FLAGGED: the generator reproduces training images" if mem["flagged"] else "")
    )
    print(f"report: {args.out / 'report.md'} (+ report.json and {len(report['per_class']) + 1} PNG figures)")


def _tune_real_data(args: argparse.Namespace, image_shape: tuple[int, ...]) -> _TrainingSet:
    """--data at the bundle's image size (as ``train`` reads it); refused when its channels are not the bundle's."""
    from synthaug.data.folder import inspect_image_folder

    channels, size, _ = image_shape
    source = {**_train_data_source(args, None), "image_size": size}
    path = source["source"]
    data = None
    if path in BUILTIN_DATA or not Path(path).is_dir():
        data = _builtin_training_set(source, args.seed, speak=False)
        found = data.image_shape[0]
    else:
        try:
            found = inspect_image_folder(path).channels
        except FileNotFoundError as e:  # torchvision: no class folders, or no images in them
            raise ValueError(
                f"--data {path!r} holds no images in class folders (expected DIR/<class>/<image>): {e}"
            ) from e
    if found != channels:
        kinds = {1: "grayscale (1 channel)", 3: "RGB (3 channels)"}
        raise ValueError(
            f"--data {path!r} has {kinds.get(found, f'{found}-channel')} images but the bundle "
            f"{str(args.bundle)!r} makes {kinds.get(channels, f'{channels}-channel')} images: tune the bundle on "
            "data of the kind it was trained on"
        )
    if data is None:
        data = _folder_training_set({**source, "channels": channels}, args.seed, speak=False)
    return data


def _cmd_tune(args: argparse.Namespace) -> None:
    from synthaug.data.real import LabelledImages
    from synthaug.generators.base import GeneratorProtocol
    from synthaug.io import load
    from synthaug.tuning import tune
    from synthaug.utils.atomic import atomic_output, check_output

    if not 0.0 < args.val_fraction < 1.0:
        raise ValueError(f"--val-fraction must be a fraction in (0, 1), got {args.val_fraction:g}")
    try:
        check_output(args.out, args.force)  # before anything slow runs
    except FileExistsError as e:
        raise ValueError(f"{str(args.out)!r} already exists; pass --force to replace it") from e
    if args.out.resolve() in (args.bundle.resolve(), *args.bundle.resolve().parents):
        raise ValueError(f"--out {str(args.out)!r} would replace the bundle {str(args.bundle)!r}")
    model = load(args.bundle)
    if not isinstance(model, GeneratorProtocol):
        raise ValueError(
            f"{args.bundle} holds a {model.model_type} model, which makes no labelled images; "
            "tune needs a generator bundle (cgan, cvae)"
        )
    data = _tune_real_data(args, tuple(model.image_shape))
    real = data.train.as_dataset() if isinstance(data.train, LabelledImages) else data.train
    print(
        f"tune: {args.bundle} ({model.model_type}) on {len(real):,} {data.name} images {list(data.image_shape)} in "
        f"{data.num_classes} classes; {args.seeds} {args.classifier} run(s) of {args.steps} steps per setting",
        file=sys.stderr,
        flush=True,
    )
    result = tune(
        real,
        model,
        steps=args.steps,
        seeds=args.seeds,
        val_fraction=args.val_fraction,
        seed=args.seed,
        progress=not args.no_progress,
    )
    title = f"Does synthetic data from {args.bundle.resolve().name} help on {data.name}?"
    report = {
        "bundle": str(args.bundle),
        "model_type": model.model_type,
        "data": {"source": str(args.data), "name": data.name, "images": len(real), "class_names": data.class_names},
        "settings": {
            "classifier": args.classifier,
            "steps": args.steps,
            "seeds": args.seeds,
            "val_fraction": args.val_fraction,
            "seed": args.seed,
        },
        **result.to_dict(),
    }
    with atomic_output(args.out, directory=True, force=args.force) as tmp:
        (tmp / "tune.md").write_text(result.to_markdown(title, figure="tune.png"), encoding="utf-8")
        (tmp / "tune.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        result.save_chart(tmp / "tune.png", title=title)
    print(f"evidence: {args.out / 'tune.md'} (+ tune.json, tune.png)", file=sys.stderr, flush=True)
    print(f"verdict: {result.verdict()}", flush=True)


COMMANDS = {
    "demo": _cmd_demo,
    "train": _cmd_train,
    "sample": _cmd_sample,
    "info": _cmd_info,
    "evaluate": _cmd_evaluate,
    "evaluate-dae": _cmd_evaluate_dae,
    "tune": _cmd_tune,
}


def main(argv: Sequence[str] | None = None) -> int:
    from synthaug.errors import MissingOptionalDependency

    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    try:
        COMMANDS[args.command](args)
    except (
        ValueError,
        TypeError,
        FileNotFoundError,
        FileExistsError,
        NotADirectoryError,
        IsADirectoryError,
        PermissionError,
    ) as e:
        # User-facing errors (bad values, paths that are missing, taken or not writable): one line, no
        # traceback, argparse's exit status for bad input.
        parser.exit(2, f"synthaug {args.command}: error: {e}\n")
    except TrainingDiverged as e:
        parser.exit(1, f"synthaug {args.command}: {e}\n")
    except MissingOptionalDependency as e:
        # A feature of an extra that is not installed: the message is the pip command to run.
        parser.exit(1, f"synthaug {args.command}: error: {e}\n")
    except KeyboardInterrupt:
        parser.exit(130, "interrupted\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
