"""Optional dependencies: the core works without them, their features name the extra to install.

A module is made unimportable the way the brief of issue 15 says: ``sys.modules[name] = None``
(for the name and every submodule already imported, since ``import a.b`` finds a cached
``a.b`` without looking at ``a``). The core is exercised in a fresh interpreter, where
``import synthaug`` itself runs with the optional packages blocked.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from synthaug.cli import main
from synthaug.errors import MissingOptionalDependency
from synthaug.utils.optional import OPTIONAL_DEPENDENCIES, install_hint, optional_dependency, require

ROOT = Path(__file__).resolve().parents[1]


def block(monkeypatch: pytest.MonkeyPatch, module: str) -> None:
    """Make ``module`` and its submodules unimportable until the test ends."""
    for name in [name for name in sys.modules if name == module or name.startswith(module + ".")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, module, None)


def pyproject() -> dict:
    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def requirement_name(requirement: str) -> str:
    """``"torchmetrics>=1.0"`` -> ``"torchmetrics"``; ``"synthaug[all]"`` -> ``"synthaug"``."""
    for stop in "<>=!~[; ":
        requirement = requirement.split(stop)[0]
    return requirement.strip().lower()


# -- the helper ------------------------------------------------------------------------


def test_missing_module_names_the_extra(monkeypatch):
    block(monkeypatch, "torchmetrics")
    with pytest.raises(
        ModuleNotFoundError, match=r'the Fréchet distance needs .*pip install "synthaug\[metrics\]"'
    ) as e:
        with optional_dependency("torchmetrics", "the Fréchet distance"):
            from torchmetrics.image.fid import FrechetInceptionDistance  # noqa: F401
    assert e.value.name.split(".")[0] == "torchmetrics"  # "torchmetrics.image" when the parent is blocked
    assert isinstance(e.value.__cause__, ModuleNotFoundError)


def test_other_import_errors_pass_through_unchanged():
    # A package the optional one needs (not the optional one itself): not ours to rename.
    with pytest.raises(ModuleNotFoundError, match="No module named 'cv2'") as e:
        with optional_dependency("albumentations", "synthaug.albumentations"):
            raise ModuleNotFoundError("No module named 'cv2'", name="cv2")
    assert e.value.name == "cv2"
    with pytest.raises(ImportError, match="cannot import name"):
        with optional_dependency("torchmetrics", "x"):
            raise ImportError("cannot import name 'Thing' from 'torchmetrics'")


def test_an_installed_module_imports_normally():
    with optional_dependency("torchmetrics", "x"):
        import torchmetrics
    assert torchmetrics.__name__ == "torchmetrics"
    assert require("torchmetrics", "x") is torchmetrics


def test_the_error_is_a_module_not_found_error_of_its_own(monkeypatch):
    block(monkeypatch, "matplotlib")
    with pytest.raises(MissingOptionalDependency) as e:
        require("matplotlib", "a plot")
    assert isinstance(e.value, ModuleNotFoundError) and e.value.name == "matplotlib"
    assert str(e.value).endswith('install it with: pip install "synthaug[plots]"')


def test_require_checks_up_front(monkeypatch):
    block(monkeypatch, "albumentations")
    with pytest.raises(ModuleNotFoundError, match=r'^the demo needs .*pip install "synthaug\[albumentations\]"$'):
        require("albumentations", "the demo")


def test_unknown_module_is_refused():
    with pytest.raises(
        ValueError,
        match=r"module must be one of \['albumentations', 'matplotlib', 'tensorboard', 'torchmetrics'\], got 'scipy'",
    ):
        install_hint("scipy")
    with pytest.raises(ValueError, match="got 'scipy'"):
        with optional_dependency("scipy", "x"):
            pass


def test_every_optional_dependency_is_an_extra_and_not_a_core_dependency():
    project = pyproject()["project"]
    extras = project["optional-dependencies"]
    core = {requirement_name(r) for r in project["dependencies"]}
    for module, (distribution, extra) in OPTIONAL_DEPENDENCIES.items():
        assert extra in extras, f"{module}: pyproject has no extra {extra!r}"
        assert distribution in {requirement_name(r) for r in extras[extra]}, f"extra {extra!r} lacks {distribution}"
        assert distribution not in core, f"{distribution} is optional but also in [project.dependencies]"
    # `all` installs every extra; `dev` installs `all`, so the suite can test every feature.
    named = {extra for _, extra in OPTIONAL_DEPENDENCIES.values()}
    all_extras = {e.strip() for r in extras["all"] for e in r.split("[")[1].rstrip("]").split(",")}
    assert named <= all_extras
    assert "synthaug[all]" in extras["dev"]


# -- the features that need them ---------------------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        lambda: synthaug_metrics().frechet_distance_from_features(torch.randn(4, 2), torch.randn(4, 2)),
        lambda: synthaug_metrics().kernel_distance_from_features(torch.randn(4, 2), torch.randn(4, 2)),
        lambda: synthaug_metrics().image_quality(torch.rand(1, 1, 8, 8), torch.rand(1, 1, 8, 8)),
    ],
    ids=["frechet", "kid", "image_quality"],
)
def test_metrics_without_torchmetrics_name_the_metrics_extra(monkeypatch, call):
    block(monkeypatch, "torchmetrics")
    with pytest.raises(ModuleNotFoundError, match=r'pip install "synthaug\[metrics\]"'):
        call()


def synthaug_metrics():
    import synthaug.metrics

    return synthaug.metrics


@pytest.mark.parametrize("module", ["synthaug.albumentations", "synthaug.transforms.albumentations"])
def test_albumentations_adapter_without_albumentations_names_its_extra(monkeypatch, module):
    block(monkeypatch, "albumentations")
    # Forget the adapter so the import runs again (monkeypatch puts the originals back).
    for name in ("synthaug.albumentations", "synthaug.transforms.albumentations"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    with pytest.raises(
        ModuleNotFoundError, match=r'synthaug.albumentations needs .*pip install "synthaug\[albumentations\]"'
    ):
        importlib.import_module(module)


def synthaug_viz():
    import synthaug.viz

    return synthaug.viz


def fidelity_chart(path):
    from synthaug.metrics.report import save_fidelity_chart

    row = {"class": "a", "label_fidelity": 0.5, "real_accuracy": 0.9}
    return save_fidelity_chart({"per_class": [row]}, path)


def grid_export(path):
    from synthaug.export import export_grid

    return export_grid(_Unsampled(), path)


class _Unsampled:
    """A generator that must not be sampled: export_grid checks for matplotlib first."""

    num_classes, image_shape, class_names = 2, (1, 8, 8), None

    def sample(self, labels, generator=None):
        raise AssertionError("sampled before checking for matplotlib")


@pytest.mark.parametrize(
    "call",
    [
        lambda path: synthaug_viz().save_image_grid(torch.rand(2, 1, 8, 8), 2, path),
        lambda path: synthaug_viz().save_loss_curves([{"step": 1, "loss": 0.5}], path),
        fidelity_chart,
        grid_export,
    ],
    ids=["image_grid", "loss_curves", "fidelity_chart", "export_grid"],
)
def test_plots_without_matplotlib_name_the_plots_extra(monkeypatch, tmp_path, call):
    block(monkeypatch, "matplotlib")
    with pytest.raises(MissingOptionalDependency, match=r'pip install "synthaug\[plots\]"'):
        call(tmp_path / "picture.png")
    assert not list(tmp_path.iterdir())


def test_training_without_matplotlib_goes_on_without_pictures(
    monkeypatch, caplog, generator_factory, dae_factory, tmp_path
):
    from synthaug.data.real import LabelledImages
    from synthaug.training import CGANTrainer, DAETrainer

    block(monkeypatch, "matplotlib")
    labels = torch.arange(3).repeat_interleave(8)
    data = LabelledImages(torch.rand(len(labels), 1, 8, 8, generator=torch.Generator().manual_seed(0)), labels)
    settings = dict(epochs=2, batch_size=8, seed=0, sample_every=1, progress=False)
    for name, trainer in [
        ("cgan", CGANTrainer(generator_factory("cgan"), tmp_path / "cgan", **settings)),
        ("dae", DAETrainer(dae_factory(), tmp_path / "dae", **settings)),
    ]:
        caplog.clear()
        with caplog.at_level("WARNING", logger="synthaug.training.base"):
            result = trainer.fit(data)
        assert result.steps == 6
        warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
        assert len(warnings) == 1, warnings  # once per run, not once per picture
        assert 'pip install "synthaug[plots]"' in warnings[0]
        assert "training goes on without sample grids and loss curves" in warnings[0]
        files = {p.name for p in (tmp_path / name).iterdir()}
        assert {"config.json", "model.safetensors", "metrics.jsonl", "checkpoint.pt"} <= files, name
        assert "loss_curves.png" not in files and "samples" not in files, name


def test_tensorboard_logger_without_tensorboard_names_its_extra(monkeypatch, generator_factory, tmp_path):
    from synthaug.training import CGANTrainer
    from synthaug.training.loggers import TensorBoardLogger, require_logger

    block(monkeypatch, "tensorboard")
    for call in (
        lambda: require_logger("tensorboard"),
        lambda: TensorBoardLogger(tmp_path / "events"),
        lambda: CGANTrainer(generator_factory("cgan"), tmp_path / "run", logger="tensorboard"),
    ):
        with pytest.raises(MissingOptionalDependency, match=r'pip install "synthaug\[tensorboard\]"'):
            call()
    assert not list(tmp_path.iterdir())


# -- the command line: a missing extra is a one-line error, not a traceback ---------------------


def run_main(argv) -> int:
    try:
        return main([str(a) for a in argv])
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else 1


def test_cli_prints_a_missing_extra_as_one_line(monkeypatch, generator_factory, tmp_path, capsys):
    bundle = generator_factory("cgan").save_pretrained(tmp_path / "bundle")
    block(monkeypatch, "matplotlib")
    assert run_main(["sample", bundle, "--out", tmp_path / "grid.png"]) == 1
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith("synthaug sample: error: a sample grid")
    assert lines[0].endswith('install it with: pip install "synthaug[plots]"')
    assert not (tmp_path / "grid.png").exists()
    # The formats that need no extra still work.
    assert run_main(["sample", bundle, "--out", tmp_path / "samples.npz", "--num-samples", "4"]) == 0


def test_cli_leaves_other_module_errors_alone(monkeypatch, tmp_path):
    """A ModuleNotFoundError that is not a missing extra is a bug: it keeps its traceback."""
    import synthaug.cli

    def broken(args):
        raise ModuleNotFoundError("No module named 'nowhere'", name="nowhere")

    monkeypatch.setitem(synthaug.cli.COMMANDS, "info", broken)
    with pytest.raises(ModuleNotFoundError, match="nowhere"):
        main(["info", str(tmp_path)])


# -- the core, in an interpreter where the optional packages cannot be imported ------------

CORE_WITHOUT_OPTIONALS = """
import json, sys, tempfile
for name in {blocked!r}:
    sys.modules[name] = None

import torch
import synthaug
from synthaug.data.real import LabelledImages
from synthaug.training import CGANTrainer

labels = torch.arange(3).repeat_interleave(8)
data = LabelledImages(torch.rand(len(labels), 1, 8, 8), labels)
model = synthaug.ConditionalGAN(num_classes=3, image_size=8, latent_dim=8, width=8)
with tempfile.TemporaryDirectory() as out:
    result = CGANTrainer(model, out, epochs=1, batch_size=8, seed=0, sample_every=0, progress=False).fit(data)
    bundle = synthaug.load(result.out_dir)
    run_files = sorted(p.name for p in result.out_dir.iterdir())
synth = synthaug.SyntheticDataset(bundle, num_samples=6, image_type="tensor")
real = torch.utils.data.TensorDataset(data.images, data.labels)
mixed = synthaug.mix(real, bundle, "ratio", ratio=0.5, image_type="tensor", progress=False)
errors = {{}}
for module in ("synthaug.albumentations",):
    try:
        __import__(module)
    except ModuleNotFoundError as error:
        errors[module] = str(error)
try:
    synthaug.metrics.image_quality(torch.rand(1, 1, 8, 8), torch.rand(1, 1, 8, 8))
except ModuleNotFoundError as error:
    errors["image_quality"] = str(error)
with tempfile.TemporaryDirectory() as out:
    try:
        synthaug.viz.save_generator_grid(bundle, out + "/grid.png")
    except ModuleNotFoundError as error:
        errors["grid"] = str(error)
try:
    CGANTrainer(model, "run", logger="tensorboard")
except ModuleNotFoundError as error:
    errors["tensorboard"] = str(error)
print(json.dumps({{
    "steps": result.steps,
    "synthetic": [tuple(synth[0][0].shape), len(synth)],
    "mixed": len(mixed),
    "run_files": run_files,
    "loaded": sorted({{m.split(".")[0] for m in sys.modules if sys.modules[m] is not None}} & set({blocked!r})),
    "errors": errors,
}}))
"""


@pytest.mark.slow
def test_core_works_without_the_optional_dependencies(tmp_path):
    blocked = sorted(OPTIONAL_DEPENDENCIES)
    code = textwrap.dedent(CORE_WITHOUT_OPTIONALS.format(blocked=blocked))
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["steps"] == 3  # 24 images, batch 8, one epoch
    assert report["synthetic"] == [[1, 8, 8], 6]
    assert report["mixed"] == 36  # 24 real + half as many synthetic
    assert report["loaded"] == []
    assert 'pip install "synthaug[albumentations]"' in report["errors"]["synthaug.albumentations"]
    assert 'pip install "synthaug[metrics]"' in report["errors"]["image_quality"]
    assert 'pip install "synthaug[plots]"' in report["errors"]["grid"]
    assert 'pip install "synthaug[tensorboard]"' in report["errors"]["tensorboard"]
    # Trained without matplotlib: the bundle and the run files, no pictures (and one warning).
    assert report["run_files"] == [
        "checkpoint.pt",
        "config.json",
        "metrics.jsonl",
        "model.safetensors",
        "training_config.json",
    ]
    assert 'pip install "synthaug[plots]"' in done.stderr
