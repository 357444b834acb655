"""The command line, end to end in a real process where it matters and in-process where cheaper.

Bad input must exit with status 2 and one line on stderr, never a traceback.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import synthaug
from synthaug.cli import main

SUBCOMMANDS = ("demo", "train", "sample", "info", "evaluate", "evaluate-dae")


def run_cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "synthaug", *map(str, args)], capture_output=True, text=True, timeout=timeout
    )


def assert_one_line_error(stderr: str, *expected: str) -> None:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected a one-line error, got:\n{stderr}"
    assert "Traceback" not in stderr
    assert "error" in lines[0]
    for text in expected:
        assert text in lines[0], (text, lines[0])


def main_exit_code(argv: list[str]) -> int:
    """Run the CLI in-process; return its exit status (0 when main returns normally)."""
    try:
        return main([str(a) for a in argv])
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else 1


@pytest.fixture(scope="module")
def cli_bundle(tmp_path_factory, image_folder_factory) -> Path:
    """``synthaug train cgan`` run in a real process on a tiny ImageFolder; the bundle it wrote."""
    root = tmp_path_factory.mktemp("cli")
    folder = image_folder_factory(root / "folder")
    out = root / "run"
    result = run_cli(
        "train",
        "cgan",
        "--data",
        folder,
        "--image-size",
        "8",
        "--channels",
        "1",
        "--epochs",
        "2",
        "--width",
        "8",
        "--latent-dim",
        "8",
        "--out",
        out,
        "--no-progress",
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert str(out) in result.stdout
    return out


# -- help ---------------------------------------------------------------------------------------


@pytest.mark.slow
def test_help_in_a_real_process():
    result = run_cli("--help")
    assert result.returncode == 0
    for command in SUBCOMMANDS:
        assert command in result.stdout


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_subcommand_help(command, capsys):
    assert main_exit_code([command, "--help"]) == 0
    out = capsys.readouterr().out
    assert f"synthaug {command}" in out
    assert "--" in out


def test_version(capsys):
    assert main_exit_code(["--version"]) == 0
    assert synthaug.__version__ in capsys.readouterr().out


def test_no_command_is_an_error(capsys):
    assert main_exit_code([]) == 2
    assert_one_line_error(capsys.readouterr().err)


# -- train, sample, info ------------------------------------------------------------------------


def test_train_writes_a_run_directory(cli_bundle):
    for name in ("config.json", "model.safetensors", "metrics.jsonl", "loss_curves.png"):
        assert (cli_bundle / name).is_file(), name
    assert sorted(p.name for p in (cli_bundle / "samples").glob("*.png")) == ["epoch_001.png", "epoch_002.png"]
    model = synthaug.load(cli_bundle)
    assert model.model_type == "cgan"
    assert model.image_shape == (1, 8, 8)
    assert model.class_names == ["cat", "dog"]
    assert model.latent_dim == 8 and model.config["width"] == 8


def test_sample_png(cli_bundle, tmp_path, capsys):
    out = tmp_path / "g.png"
    assert main_exit_code(["sample", cli_bundle, "--out", out, "--per-class", "3"]) == 0
    with Image.open(out) as image:
        assert image.format == "PNG" and image.size[0] > 0
    assert str(out) in capsys.readouterr().out


def test_sample_npz(cli_bundle, tmp_path):
    out = tmp_path / "s.npz"
    assert main_exit_code(["sample", cli_bundle, "--out", out, "--num-samples", "12", "--seed", "3"]) == 0
    with np.load(out) as arrays:
        images, labels, names = arrays["images"], arrays["labels"], arrays["class_names"]
    assert images.shape == (12, 8, 8, 1) and images.dtype == np.uint8
    assert labels.shape == (12,) and labels.dtype == np.int64
    assert np.bincount(labels).tolist() == [6, 6]
    assert names.tolist() == ["cat", "dog"]
    # The same items SyntheticDataset gives for that seed.
    ds = synthaug.SyntheticDataset(synthaug.load(cli_bundle), 12, seed=3, image_type="numpy")
    assert np.array_equal(images, np.stack([ds[i][0] for i in range(12)]))
    assert np.array_equal(labels, ds.targets.numpy())


@pytest.mark.slow
def test_sample_npz_in_a_real_process_is_reproducible(cli_bundle, tmp_path):
    first, second = tmp_path / "a.npz", tmp_path / "b.npz"
    result = run_cli("sample", cli_bundle, "--out", first, "--num-samples", "12")
    assert result.returncode == 0, result.stderr
    assert main_exit_code(["sample", cli_bundle, "--out", second, "--num-samples", "12"]) == 0
    with np.load(first) as a, np.load(second) as b:
        assert np.array_equal(a["images"], b["images"]) and np.array_equal(a["labels"], b["labels"])
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_sample_truncation(cli_bundle, tmp_path):
    plain, cooled = tmp_path / "plain.npz", tmp_path / "cooled.npz"
    assert main_exit_code(["sample", cli_bundle, "--out", plain, "--num-samples", "4"]) == 0
    assert main_exit_code(["sample", cli_bundle, "--out", cooled, "--num-samples", "4", "--truncation", "0.5"]) == 0
    with np.load(plain) as a, np.load(cooled) as b:
        assert not np.array_equal(a["images"], b["images"])


def test_sample_imagefolder_reads_back_with_torchvision(cli_bundle, tmp_path, capsys):
    from torchvision.datasets import ImageFolder

    out = tmp_path / "synth"
    argv = [
        "sample",
        cli_bundle,
        "--out",
        out,
        "--n",
        "7",
        "--class-counts",
        "cat=2,1=5",
        "--seed",
        "3",
        "--no-progress",
    ]
    assert main_exit_code(argv) == 0
    captured = capsys.readouterr()
    assert str(out) in captured.out and captured.err == ""
    folder = ImageFolder(out, loader=lambda path: np.asarray(Image.open(path)))
    assert folder.classes == ["cat", "dog"]
    assert np.bincount(folder.targets).tolist() == [2, 5]
    ds = synthaug.SyntheticDataset(
        synthaug.load(cli_bundle), None, class_counts={"cat": 2, "dog": 5}, seed=3, image_type="numpy"
    )
    for i, (image, label) in enumerate(folder):
        assert label == ds[i][1] and np.array_equal(image, ds[i][0][..., 0])
    assert [p.name for p in tmp_path.iterdir()] == ["synth"]


@pytest.mark.parametrize(
    "out, argv, kind",
    [
        ("s.npz", [], "npz"),
        ("synth", [], "imagefolder"),
        ("g.png", [], "grid"),
        ("synth.data", ["--format", "npz"], "npz"),
        ("synth.d", ["--format", "imagefolder"], "imagefolder"),
    ],
    ids=["npz", "no-suffix", "png", "format-npz", "format-imagefolder"],
)
def test_sample_format_follows_out_unless_given(cli_bundle, tmp_path, out, argv, kind):
    counts = [] if kind == "grid" else ["--n", "4", "--no-progress"]
    assert main_exit_code(["sample", cli_bundle, "--out", tmp_path / out, *argv, *counts]) == 0
    path = tmp_path / out
    if kind == "npz":
        assert np.load(path, allow_pickle=False)["images"].shape == (4, 8, 8, 1)
    elif kind == "imagefolder":
        assert sorted(p.name for p in path.iterdir()) == ["cat", "dog"]
    else:
        with Image.open(path) as image:
            assert image.format == "PNG"


@pytest.mark.parametrize(
    "out, counts", [("s.npz", ["--n", "4"]), ("synth", ["--n", "4"]), ("g.png", [])], ids=["npz", "imagefolder", "grid"]
)
def test_sample_refuses_an_existing_out_unless_forced(cli_bundle, tmp_path, capsys, out, counts):
    path = tmp_path / out
    path.write_bytes(b"precious")
    assert main_exit_code(["sample", cli_bundle, "--out", path, *counts, "--no-progress"]) == 2
    assert_one_line_error(capsys.readouterr().err, "already exists", "--force")
    assert path.read_bytes() == b"precious"
    assert main_exit_code(["sample", cli_bundle, "--out", path, *counts, "--force", "--no-progress"]) == 0
    assert path.is_dir() if out == "synth" else path.read_bytes() != b"precious"
    assert [p.name for p in tmp_path.iterdir()] == [out]


def test_sample_force_never_replaces_the_bundle(cli_bundle, capsys):
    argv = ["sample", cli_bundle, "--out", cli_bundle.parent, "--format", "imagefolder", "--force", "--no-progress"]
    assert main_exit_code(argv) == 2
    assert_one_line_error(capsys.readouterr().err, "would replace the bundle")
    assert (cli_bundle / "config.json").is_file()


def test_info_json(cli_bundle, capsys):
    assert main_exit_code(["info", cli_bundle, "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["model_type"] == "cgan"
    assert info["num_classes"] == 2
    assert info["class_names"] == ["cat", "dog"]
    assert info["image_shape"] == [1, 8, 8]
    assert info["latent_dim"] == 8
    assert info["parameters"] == sum(p.numel() for p in synthaug.load(cli_bundle).parameters())
    assert info["config"]["width"] == 8


def test_info_text(cli_bundle, capsys):
    assert main_exit_code(["info", cli_bundle]) == 0
    out = capsys.readouterr().out
    assert "model_type" in out and "cgan" in out
    assert "parameters" in out


# -- bad input: status 2, one line, no traceback ------------------------------------------------


@pytest.mark.slow
def test_bad_value_in_a_real_process(image_folder, tmp_path):
    result = run_cli("train", "cgan", "--data", image_folder, "--epochs", "0", "--out", tmp_path / "run")
    assert result.returncode == 2
    assert_one_line_error(result.stderr, "--epochs")
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["train", "cgan", "--data", "{folder}", "--epochs", "0", "--out", "{tmp}/run"], "--epochs"),
        (["train", "cgan", "--data", "{folder}", "--epochs", "two", "--out", "{tmp}/run"], "--epochs"),
        (["train", "cgan", "--data", "{folder}", "--out", "{tmp}/run", "--lr", "-1"], "--lr"),
        (["train", "gpt", "--data", "{folder}", "--out", "{tmp}/run"], "gpt"),
        (["train", "cgan", "--out", "{tmp}/run"], "--data"),
        (["train", "cgan", "--data", "{tmp}/missing", "--out", "{tmp}/run"], "missing"),
        (
            ["train", "cvae", "--data", "{folder}", "--image-size", "10", "--out", "{tmp}/run", "--no-progress"],
            "image_size",
        ),
        (["sample", "{tmp}/missing", "--out", "{tmp}/g.png"], "missing"),
        (["sample", "{bundle}", "--out", "{tmp}/x.txt"], "x.txt"),
        (["sample", "{bundle}", "--out", "{tmp}/g.png", "--truncation", "3"], "truncation"),
        (["sample", "{bundle}", "--out", "{tmp}/s.npz", "--num-samples", "0"], "--num-samples"),
        (["sample", "{bundle}", "--out", "{tmp}/s", "--class-counts", "bird=3"], "unknown class 'bird'"),
        (["sample", "{bundle}", "--out", "{tmp}/s", "--class-counts", "5=3"], "unknown class 5"),
        (["sample", "{bundle}", "--out", "{tmp}/s", "--class-counts", "cat=-1"], "--class-counts"),
        (["sample", "{bundle}", "--out", "{tmp}/s", "--class-counts", "cat=two"], "--class-counts"),
        (["sample", "{bundle}", "--out", "{tmp}/s", "--class-counts", "cat"], "--class-counts"),
        (["sample", "{bundle}", "--out", "{tmp}/s", "--class-counts", "cat=1,cat=2"], "twice"),
        (["sample", "{bundle}", "--out", "{tmp}/s", "--class-counts", "cat=0"], "at least one"),
        (["sample", "{bundle}", "--out", "{tmp}/s.npz", "--n", "5", "--class-counts", "cat=1"], "sum of class_counts"),
        (["sample", "{bundle}", "--out", "{tmp}/s.npz", "--per-class", "3"], "--per-class"),
        (["sample", "{bundle}", "--out", "{tmp}/g.png", "--n", "5"], "--n"),
        (["sample", "{bundle}", "--out", "{tmp}/s", "--format", "tiff"], "--format"),
        (["info", "{tmp}"], "config.json"),
        (["info", "{tmp}/missing"], "missing"),
        (["demo", "--gan-epochs", "0"], "--gan-epochs"),
    ],
    ids=[
        "epochs-0",
        "epochs-text",
        "lr-negative",
        "unknown-model",
        "no-data",
        "data-missing",
        "image-size-10",
        "bundle-missing",
        "out-txt",
        "truncation-3",
        "num-samples-0",
        "class-counts-unknown-name",
        "class-counts-unknown-index",
        "class-counts-negative",
        "class-counts-not-int",
        "class-counts-no-count",
        "class-counts-twice",
        "class-counts-all-zero",
        "n-not-sum",
        "per-class-npz",
        "n-grid",
        "format-unknown",
        "info-not-a-bundle",
        "info-missing",
        "demo-epochs-0",
    ],
)
def test_bad_input_exits_2_with_one_line(argv, expected, cli_bundle, image_folder, tmp_path, capsys):
    fill = dict(folder=image_folder, tmp=tmp_path, bundle=cli_bundle)
    argv = [a.format(**fill) for a in argv]
    assert main_exit_code(argv) == 2
    captured = capsys.readouterr()
    assert_one_line_error(captured.err, expected)
    assert not (tmp_path / "run").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["folder"]  # nothing written, no temporaries


# -- the denoising autoencoder: train dae, info, evaluate-dae ------------------------------------


@pytest.fixture(scope="module")
def dae_folder(tmp_path_factory, image_folder_factory) -> Path:
    return image_folder_factory(tmp_path_factory.mktemp("dae_cli") / "folder")


@pytest.fixture(scope="module")
def dae_bundle(dae_folder) -> Path:
    """``synthaug train dae`` in a real process on a tiny grayscale ImageFolder at 8x8."""
    out = dae_folder.parent / "run"
    result = run_cli(
        "train",
        "dae",
        "--data",
        dae_folder,
        "--image-size",
        "8",
        "--channels",
        "1",
        "--epochs",
        "2",
        "--width",
        "8",
        "--batch-size",
        "4",
        "--corruptions",
        "gaussian:2,blur",
        "--out",
        out,
        "--no-progress",
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert str(out) in result.stdout and "loss=" in result.stdout
    return out


def test_train_dae_writes_a_loadable_run_directory(dae_bundle):
    for name in ("config.json", "model.safetensors", "metrics.jsonl", "loss_curves.png"):
        assert (dae_bundle / name).is_file(), name
    assert sorted(p.name for p in (dae_bundle / "samples").glob("*.png")) == ["epoch_001.png", "epoch_002.png"]
    model = synthaug.load(dae_bundle)
    assert isinstance(model, synthaug.DenoisingAutoencoder)
    assert model.config == {"channels": 1, "image_size": 8, "width": 8}


@pytest.mark.slow
def test_dae_info_in_a_real_process(dae_bundle):
    result = run_cli("info", dae_bundle)
    assert result.returncode == 0, result.stderr
    assert "dae" in result.stdout and "[1, 8, 8]" in result.stdout and "parameters" in result.stdout
    assert "num_classes" not in result.stdout and "latent_dim" not in result.stdout


def test_dae_info_json(dae_bundle, capsys):
    assert main_exit_code(["info", dae_bundle, "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["model_type"] == "dae" and info["image_shape"] == [1, 8, 8]
    assert info["parameters"] == sum(p.numel() for p in synthaug.load(dae_bundle).parameters())
    assert info["config"]["width"] == 8
    assert "num_classes" not in info and "latent_dim" not in info


@pytest.mark.parametrize(
    "command",
    [["evaluate-dae"], ["evaluate"], ["evaluate", "--bundle"]],
    ids=["evaluate-dae", "evaluate", "evaluate-bundle-flag"],
)
def test_evaluate_dae_prints_a_table(command, dae_bundle, dae_folder, capsys):
    assert main_exit_code([*command, dae_bundle, "--data", dae_folder, "--corruptions", "gaussian,cutout"]) == 0
    out = capsys.readouterr().out
    assert "| corruption | PSNR noisy | PSNR denoised | gain | SSIM noisy | SSIM denoised |" in out
    assert "| gaussian |" in out and "| cutout |" in out and "| blur |" not in out


@pytest.mark.parametrize("command", ["evaluate-dae", "evaluate"])
def test_evaluate_dae_json(command, dae_bundle, dae_folder, capsys):
    assert main_exit_code([command, dae_bundle, "--data", dae_folder, "--num-images", "2", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["images"] == 2
    assert set(summary["report"]) == {"gaussian", "salt_and_pepper", "cutout", "blur"}
    assert set(summary["report"]["blur"]) == {
        "psnr_noisy",
        "psnr_denoised",
        "mse_noisy",
        "mse_denoised",
        "ssim_noisy",
        "ssim_denoised",
    }


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["train", "dae", "--data", "{folder}", "--latent-dim", "4", "--out", "{tmp}/run"], "--latent-dim"),
        (["train", "dae", "--data", "{folder}", "--corruptions", "speckle", "--out", "{tmp}/run"], "speckle"),
        (["train", "dae", "--data", "{folder}", "--corruptions", "blur:x", "--out", "{tmp}/run"], "--corruptions"),
        (["train", "cvae", "--data", "{folder}", "--corruptions", "blur", "--out", "{tmp}/run"], "--corruptions"),
        (["train", "dae", "--data", "{folder}", "--image-size", "10", "--out", "{tmp}/run"], "image_size"),
        (["evaluate-dae", "{tmp}/missing", "--data", "{folder}"], "missing"),
        (["evaluate-dae", "{cgan}", "--data", "{folder}"], "not a dae"),
        (["evaluate-dae", "{bundle}", "--data", "{folder}", "--corruptions", "speckle"], "speckle"),
        (["sample", "{bundle}", "--out", "{tmp}/g.png"], "does not sample"),
    ],
    ids=[
        "latent-dim",
        "unknown-corruption",
        "bad-weight",
        "corruptions-for-cvae",
        "image-size-10",
        "missing-bundle",
        "not-a-dae",
        "evaluate-unknown-corruption",
        "sample-a-dae",
    ],
)
def test_dae_bad_input_exits_2_with_one_line(
    argv, expected, dae_bundle, dae_folder, generator_factory, tmp_path, capsys
):
    generator_factory("cgan").save_pretrained(tmp_path / "cgan")
    fill = dict(folder=dae_folder, tmp=tmp_path, bundle=dae_bundle, cgan=tmp_path / "cgan")
    assert main_exit_code([a.format(**fill) for a in argv]) == 2
    assert_one_line_error(capsys.readouterr().err, expected)
    assert not (tmp_path / "run").exists() and not (tmp_path / "g.png").exists()


# -- evaluate a generator bundle: report.md, report.json, figures ---------------------------------

PATTERN_CLASSES = ("left", "right", "top")  # the class names of the cgan_bundle fixture


@pytest.fixture(scope="module")
def pattern_folder(tmp_path_factory, pattern_factory) -> Path:
    """An ImageFolder of 8x8 grayscale pattern images, 15 per class, with the cgan_bundle fixture's classes."""
    root = tmp_path_factory.mktemp("evaluate") / "patterns"
    data = pattern_factory(15, seed=7)
    for i, (image, label) in enumerate(zip(data.images, data.labels.tolist())):
        folder = root / PATTERN_CLASSES[label]
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray((image[0].numpy() * 255).round().astype(np.uint8), mode="L").save(folder / f"{i:03d}.png")
    return root


EVALUATE_FAST = ["--num-per-class", "12", "--classifier-steps", "20", "--no-progress"]


def test_evaluate_generator_writes_a_report(cgan_bundle, pattern_folder, tmp_path, capsys):
    out, cache = tmp_path / "report", tmp_path / "cache"
    argv = ["evaluate", cgan_bundle, "--data", pattern_folder, "--out", out, "--cache-dir", cache, *EVALUATE_FAST]
    assert main_exit_code(argv) == 0
    printed = capsys.readouterr().out
    assert "SmallCNN" in printed and "label fidelity" in printed and str(out / "report.md") in printed
    names = {"report.md", "report.json", "label_fidelity.png", *(f"samples_class_0{c}.png" for c in range(3))}
    assert {p.name for p in out.iterdir()} == names
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporaries left
    report = json.loads((out / "report.json").read_text())
    assert report["generator"]["model_type"] == "cgan" and report["data"]["class_names"] == list(PATTERN_CLASSES)
    assert report["settings"]["num_samples"] == 36 and report["settings"]["classifier_steps"] == 20
    assert report["feature_extractor"]["from_cache"] is False
    assert 0 <= report["overall"]["label_fidelity"] <= 1 and len(report["per_class"]) == 3
    assert len(list((cache / "evaluators").glob("*.safetensors"))) == 1
    md = (out / "report.md").read_text()
    assert "SmallCNN" in md and "| left |" in md and "![label fidelity per class](label_fidelity.png)" in md

    # Again with --bundle and --force: the same report, and the evaluator comes from the cache.
    argv = [
        "evaluate",
        "--bundle",
        cgan_bundle,
        "--data",
        pattern_folder,
        "--out",
        out,
        "--cache-dir",
        cache,
        "--force",
        "--json",
        *EVALUATE_FAST,
    ]
    assert main_exit_code(argv) == 0
    printed = json.loads(capsys.readouterr().out)
    again = json.loads((out / "report.json").read_text())
    assert printed == again and again["feature_extractor"]["from_cache"] is True
    assert again["overall"] == report["overall"] and again["per_class"] == report["per_class"]


@pytest.mark.slow
def test_evaluate_bad_data_path_in_a_real_process(cgan_bundle, tmp_path):
    result = run_cli("evaluate", cgan_bundle, "--data", tmp_path / "nowhere", "--out", tmp_path / "report")
    assert result.returncode == 2
    assert_one_line_error(result.stderr, "nowhere")
    assert not (tmp_path / "report").exists()


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["evaluate", "{tmp}/missing", "--data", "{folder}", "--out", "{tmp}/report"], "missing"),
        (["evaluate", "--bundle", "{tmp}/missing", "--data", "{folder}", "--out", "{tmp}/report"], "missing"),
        (["evaluate", "--data", "{folder}", "--out", "{tmp}/report"], "name the bundle"),
        (
            ["evaluate", "{cgan}", "--bundle", "{dae}", "--data", "{folder}", "--out", "{tmp}/report"],
            "two different bundles",
        ),
        (["evaluate", "{folder}", "--data", "{folder}", "--out", "{tmp}/report"], "config.json"),
        (["evaluate", "{cgan}", "--data", "{tmp}/nowhere", "--out", "{tmp}/report"], "nowhere"),
        (["evaluate", "{cgan}", "--data", "{folder}"], "--out is required"),
        (["evaluate", "{cgan}", "--data", "{folder}", "--out", "{tmp}/taken"], "already exists"),
        (["evaluate", "{cgan}", "--data", "{folder}", "--out", "{cgan}", "--force"], "would replace the bundle"),
        (
            ["evaluate", "{cgan}", "--data", "{folder}", "--out", "{tmp}/report", "--corruptions", "blur"],
            "--corruptions",
        ),
        (
            ["evaluate", "{cgan}", "--data", "{folder}", "--out", "{tmp}/report", "--num-per-class", "0"],
            "--num-per-class",
        ),
        (["evaluate", "{dae}", "--data", "{folder}", "--out", "{tmp}/report"], "--out applies to generator"),
        (
            ["evaluate", "{cgan}", "--data", "{two_classes}", "--out", "{tmp}/report", "--cache-dir", "{tmp}/cache"],
            "3 classes",
        ),
    ],
    ids=[
        "bundle-missing",
        "bundle-flag-missing",
        "no-bundle",
        "two-bundles",
        "not-a-bundle",
        "data-missing",
        "no-out",
        "out-exists",
        "out-is-bundle",
        "corruptions-for-generator",
        "num-per-class-0",
        "out-for-dae",
        "class-mismatch",
    ],
)
def test_evaluate_bad_input_exits_2_with_one_line(
    argv, expected, pattern_folder, generator_factory, dae_factory, image_folder_factory, tmp_path, capsys
):
    generator_factory("cgan", class_names=list(PATTERN_CLASSES)).save_pretrained(tmp_path / "cgan")
    dae_factory().save_pretrained(tmp_path / "dae")
    (tmp_path / "taken").mkdir()
    fill = dict(
        folder=pattern_folder,
        tmp=tmp_path,
        cgan=tmp_path / "cgan",
        dae=tmp_path / "dae",
        two_classes=image_folder_factory(tmp_path / "two"),
    )
    before = sorted(p.name for p in tmp_path.iterdir())
    assert main_exit_code([a.format(**fill) for a in argv]) == 2
    assert_one_line_error(capsys.readouterr().err, expected)
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # no report, no temporaries
    assert (tmp_path / "cgan" / "config.json").is_file() and not any((tmp_path / "taken").iterdir())


# -- train --config: a run re-created from its training_config.json ------------------------------

TINY_TRAIN = [
    "--image-size",
    "8",
    "--channels",
    "1",
    "--width",
    "8",
    "--latent-dim",
    "8",
    "--batch-size",
    "4",
    "--sample-every",
    "0",
    "--no-progress",
    "--device",
    "cpu",
]


@pytest.fixture(scope="module")
def config_run(tmp_path_factory, image_folder_factory) -> Path:
    """``synthaug train cgan ... --out A`` in-process, 5 steps on a tiny ImageFolder; the run directory A."""
    root = tmp_path_factory.mktemp("config_run")
    folder = image_folder_factory(root / "folder")
    out = root / "A"
    assert (
        main_exit_code(
            [
                "train",
                "cgan",
                "--data",
                folder,
                *TINY_TRAIN,
                "--steps",
                "5",
                "--checkpoint-every",
                "2",
                "--loss",
                "hinge",
                "--out",
                out,
            ]
        )
        == 0
    )
    return out


def tensors(run: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(run / "model.safetensors")


def test_train_writes_its_config(config_run):
    document = json.loads((config_run / "training_config.json").read_text())
    assert document["model_type"] == "cgan"
    assert document["data"] == {
        "source": str((config_run.parent / "folder").resolve()),
        "image_size": 8,
        "channels": 1,
        "data_root": str(Path("~/.cache/synthaug").expanduser()),
        "unlabelled": None,
        "val_split": 0.0,
    }
    assert document["model"]["width"] == 8 and document["model"]["class_names"] == ["cat", "dog"]
    training = document["training"]
    assert (training["steps"], training["epochs"], training["loss"], training["checkpoint_every"]) == (
        5,
        None,
        "hinge",
        2,
    )
    assert training["device"] == "cpu" and training["progress"] is False


def test_a_run_trained_again_from_its_config_has_identical_weights(config_run, capsys):
    again = config_run.parent / "B"
    assert main_exit_code(["train", "--config", config_run / "training_config.json", "--out", again]) == 0
    a, b = tensors(config_run), tensors(again)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert (again / "training_config.json").read_text() == (config_run / "training_config.json").read_text()
    strip = lambda run: [
        {k: v for k, v in json.loads(line).items() if k != "seconds"}  # noqa: E731
        for line in (run / "metrics.jsonl").read_text().splitlines()
    ]
    assert strip(again) == strip(config_run)


def test_flags_override_the_config_file(config_run):
    out = config_run.parent / "C"
    assert (
        main_exit_code(
            [
                "train",
                "cgan",
                "--config",
                config_run / "training_config.json",
                "--epochs",
                "1",
                "--lr",
                "0.01",
                "--checkpoint-every",
                "epoch",
                "--out",
                out,
            ]
        )
        == 0
    )
    training = json.loads((out / "training_config.json").read_text())["training"]
    assert (training["epochs"], training["steps"], training["lr"], training["checkpoint_every"]) == (
        1,
        None,
        0.01,
        "epoch",
    )
    assert training["loss"] == "hinge"  # from the file


def test_a_hand_written_yaml_config(config_run, tmp_path, capsys):
    folder = config_run.parent / "folder"
    config = tmp_path / "run.yaml"
    config.write_text(f"""\
model_type: cvae
data: {{source: {folder}, image_size: 8, channels: 1}}
model: {{width: 8, latent_dim: 4}}
training:
  steps: 3
  batch_size: 4
  lr: 2e-3           # a float (YAML 1.1 would read a string)
  amp: off           # a string (YAML 1.1 would read False)
  gmm_components: 0
  sample_every: 0
  progress: false
  device: cpu
""")
    assert main_exit_code(["train", "--config", config, "--out", tmp_path / "run"]) == 0
    assert "done: 3 steps" in capsys.readouterr().out
    document = json.loads((tmp_path / "run" / "training_config.json").read_text())
    assert document["model"]["latent_dim"] == 4
    assert (document["training"]["lr"], document["training"]["amp"], document["training"]["beta"]) == (
        0.002,
        "off",
        1.0,
    )


@pytest.mark.parametrize(
    "content, argv, expected",
    [
        (
            '{"model_type": "cgan", "data": "digits", "training": {"stepz": 3}}',
            [],
            "unknown cgan training option 'stepz' (did you mean 'steps'?)",
        ),
        (
            '{"model_type": "cgan", "data": "digits", "training": {"epochs": 0}}',
            [],
            "epochs must be a positive int, got 0",
        ),
        (
            '{"model_type": "cgan", "data": "digits", "training": {"epochs": 2, "steps": 3}}',
            [],
            "give either epochs or steps, not both",
        ),
        ('{"model_type": "cgan", "data": "digits", "extra": 1}', [], "unknown key 'extra'"),
        ("model_type: cgan\ndata: digits\ntraining: {lr: 2}\n", [], "lr must be a float in (0, 1), got 2"),
        ('{"model_type": "cgan", "data": "digits"}', ["cvae"], "model 'cvae' differs from 'cgan'"),
        ('{"model_type": "cgan"}', [], "--data is required"),
        ('{"model_type": "cgan", "data": "digits"', [], "not valid JSON"),
    ],
    ids=[
        "unknown-key",
        "bad-value",
        "steps-and-epochs",
        "unknown-top-level-key",
        "yaml-bad-value",
        "other-model",
        "no-data",
        "broken-json",
    ],
)
def test_bad_config_files_exit_2_with_one_line(content, argv, expected, tmp_path, capsys):
    config = tmp_path / ("config.yaml" if content.startswith("model_type") else "config.json")
    config.write_text(content)
    assert main_exit_code(["train", *argv, "--config", config, "--out", tmp_path / "run"]) == 2
    assert_one_line_error(capsys.readouterr().err, expected, str(config) if expected != "--data is required" else "")
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    "argv, expected",
    [
        (
            ["train", "cgan", "--data", "digits", "--epochs", "2", "--steps", "3"],
            "argument --steps: not allowed with argument --epochs",
        ),
        (["train", "cgan", "--data", "digits", "--steps", "0"], "argument --steps: expected a positive integer, got 0"),
        (
            ["train", "cgan", "--data", "digits", "--checkpoint-every", "soon"],
            "argument --checkpoint-every: expected a number of steps",
        ),
        (["train", "cvae", "--data", "digits", "--loss", "hinge"], "--loss applies to GANs (cgan) only, not cvae"),
        (["train", "dae", "--data", "digits", "--beta", "2"], "--beta applies to VAEs (cvae) only, not dae"),
        (["train", "--data", "digits"], "name the model family to train (cgan, cvae, dae), or give --config FILE"),
        (["train", "--config", "{tmp}/missing.json"], "missing.json' does not exist"),
    ],
    ids=[
        "epochs-and-steps",
        "steps-0",
        "checkpoint-every",
        "loss-for-cvae",
        "beta-for-dae",
        "no-model",
        "missing-config",
    ],
)
def test_bad_train_flags_exit_2_with_one_line(argv, expected, tmp_path, capsys):
    argv = [a.format(tmp=tmp_path) for a in argv]
    assert main_exit_code([*argv, "--out", tmp_path / "run"]) == 2
    assert_one_line_error(capsys.readouterr().err, expected)
    assert not (tmp_path / "run").exists()


def test_every_train_flag_sets_a_config_field():
    """No lookup table: a training flag's dest is the name of a field of some trainer's config class."""
    from dataclasses import fields

    from synthaug.cli import build_parser
    from synthaug.training import available_trainers, get_trainer_class

    train = build_parser()._subparsers._group_actions[0].choices["train"]
    config_fields = {f.name for name in available_trainers() for f in fields(get_trainer_class(name).config_class)}
    other = {
        "help",
        "model",
        "config",
        "data",
        "data_root",
        "unlabelled",
        "out",
        "latent_dim",
        "width",
        "image_size",
        "channels",
        "val_split",  # a data option, recorded under "data" in training_config.json
        "resume",
    }
    dests = {action.dest for action in train._actions}
    assert dests - other <= config_fields, dests - other - config_fields
    assert {"epochs", "steps", "checkpoint_every", "loss", "corruptions", "beta"} <= dests


def test_info_prints_the_training_config(config_run, capsys):
    assert main_exit_code(["info", config_run]) == 0
    out = capsys.readouterr().out
    assert "training config" in out and "synthaug train --config" in out
    assert '"hinge"' in out and "steps" in out
    assert main_exit_code(["info", config_run, "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["training_config"]["training"]["loss"] == "hinge"


# -- demo ---------------------------------------------------------------------------------------


@pytest.mark.slow
def test_demo_in_a_real_process(tmp_path):
    out = tmp_path / "demo"
    result = run_cli(
        "demo", "--gan-epochs", "1", "--vae-epochs", "1", "--classifier-steps", "5", "--no-progress", "--out", out
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert "| real only |" in result.stdout
    for name in ("summary.md", "summary.json", "cgan_samples.png", "cvae_samples.png"):
        assert (out / name).is_file(), name
    summary = json.loads((out / "summary.json").read_text())
    assert summary["settings"]["classifier_steps"] == 5
    assert all(0 <= acc <= 1 for acc in summary["accuracy"].values())
    assert isinstance(synthaug.load(out / "cgan"), synthaug.ConditionalGAN)
    assert isinstance(synthaug.load(out / "cvae"), synthaug.ConditionalVAE)


# -- training on a folder as it is: inferred shape, no hidden split -------------------------------

FOLDER_TRAIN = ["--width", "4", "--latent-dim", "4", "--steps", "2", "--batch-size", "4", "--sample-every", "0"]


def test_train_infers_the_shape_of_a_folder_and_trains_on_every_image(image_folder_factory, tmp_path, capsys):
    folder = image_folder_factory(tmp_path / "folder", per_class=6, size=(22, 16))  # 22 wide, 16 high
    out = tmp_path / "run"
    assert main_exit_code(["train", "cgan", "--data", folder, *FOLDER_TRAIN, "--out", out, "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "inferred from all 12 images: channels 3 (RGB" in printed
    assert "image size 16 (most common image 22x16, short side 16 px)" in printed
    assert "override with --image-size / --channels" in printed
    assert "training on all 12 images in 2 classes (nothing held out" in printed
    assert "training cgan on 12 folder images [3, 16, 16]" in printed
    document = json.loads((out / "training_config.json").read_text())
    assert (document["data"]["image_size"], document["data"]["channels"], document["data"]["val_split"]) == (16, 3, 0.0)
    assert synthaug.load(out).image_shape == (3, 16, 16)


def test_val_split_holds_out_a_printed_share_of_every_class(image_folder_factory, tmp_path, capsys):
    folder = image_folder_factory(tmp_path / "folder", per_class=6, size=(12, 10))
    argv = ["train", "cgan", "--data", folder, "--image-size", "8", *FOLDER_TRAIN, "--val-split", "0.5"]
    assert main_exit_code([*argv, "--out", tmp_path / "run", "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "given: --image-size 8" in printed
    assert "held out for validation 6 of 12 images (--val-split 0.5, seed 0); training on 6" in printed
    assert "training cgan on 6 folder images [3, 8, 8]" in printed
    document = json.loads((tmp_path / "run" / "training_config.json").read_text())
    assert document["data"]["val_split"] == 0.5


@pytest.mark.parametrize(
    "extra, expected",
    [
        (["--val-split", "1"], "expected a fraction in [0, 1), got '1'"),
        (["--val-split", "x"], "expected a fraction in [0, 1), got 'x'"),
    ],
)
def test_bad_val_split_exits_2(extra, expected, image_folder, tmp_path, capsys):
    argv = ["train", "cgan", "--data", image_folder, *extra, "--out", tmp_path / "run"]
    assert main_exit_code(argv) == 2
    assert_one_line_error(capsys.readouterr().err, expected)


def test_val_split_on_a_built_in_set_is_refused(tmp_path, capsys):
    assert main_exit_code(["train", "cgan", "--data", "digits", "--val-split", "0.1", "--out", tmp_path / "r"]) == 2
    assert_one_line_error(capsys.readouterr().err, "--val-split applies to ImageFolder directories")


def test_a_large_folder_is_streamed(image_folder_factory, tmp_path, capsys):
    folder = image_folder_factory(tmp_path / "folder", per_class=6, size=(12, 10))
    argv = ["train", "cvae", "--data", folder, "--image-size", "8", *FOLDER_TRAIN, "--in-memory-limit-mb", "1e-6"]
    assert main_exit_code([*argv, "--num-workers", "0", "--out", tmp_path / "run", "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "streamed by 0 DataLoader workers" in printed
    training = json.loads((tmp_path / "run" / "training_config.json").read_text())["training"]
    assert (training["in_memory_limit_mb"], training["num_workers"]) == (1e-6, 0)
