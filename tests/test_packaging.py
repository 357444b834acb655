"""synthaug installs like a package: one version, a licence, type hints, a wheel that works.

The slow tests build a wheel from the checkout, install it with ``--no-deps`` into a new
virtual environment and run it there. The heavy dependencies (torch, ...) come from this
interpreter's site-packages through a ``.pth`` file in the new environment. Python adds the
directories a ``.pth`` file names to ``sys.path`` without processing the ``.pth`` files
inside them, so the development environment's editable finder for synthaug stays inactive
and only the installed wheel can answer ``import synthaug`` (the tests check this rather
than trust it). Everything runs offline: no index is consulted and nothing is downloaded.
"""

from __future__ import annotations

import email.parser
import importlib.metadata
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import synthaug

ROOT = Path(__file__).resolve().parents[1]
# What the build reads: pyproject names the readme and the licence, and packages synthaug/.
BUILD_INPUTS = ("pyproject.toml", "README.md", "LICENSE", "synthaug")
# The core dependencies, by import name: the new environment must find them.
CORE_IMPORTS = ("torch", "torchvision", "numpy", "PIL", "sklearn", "safetensors", "tqdm", "yaml")


def run(command: list[str], **kwargs) -> subprocess.CompletedProcess:
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False, **kwargs)
    assert done.returncode == 0, f"{command} failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    return done


def clean_env() -> dict[str, str]:
    """This environment without PYTHON* variables (PYTHONPATH could point at the checkout)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTHON")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env["PIP_NO_INDEX"] = "1"
    return env


# -- fast: the sources agree with each other ---------------------------------------------


def test_installed_metadata_version_is_the_package_version():
    installed = importlib.metadata.version("synthaug")
    assert installed == synthaug.__version__, (
        f"the installed metadata says {installed} but synthaug.__version__ is {synthaug.__version__}: "
        "re-install (make install, or pip install -e '.[dev]')"
    )


def test_pyproject_reads_the_version_from_one_place():
    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "version" not in config["project"], "the version is written only in synthaug/_version.py"
    assert "version" in config["project"]["dynamic"]
    assert config["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "synthaug._version.__version__"}
    assert config["project"]["license"] == "Apache-2.0"
    assert config["project"]["license-files"] == ["LICENSE"]
    assert "py.typed" in config["tool"]["setuptools"]["package-data"]["synthaug"]


def test_license_is_the_apache_2_text():
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    assert "END OF TERMS AND CONDITIONS" in text
    assert (ROOT / "synthaug" / "py.typed").is_file()


# -- slow: build, install, run --------------------------------------------------------------


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """A wheel built from a copy of the checkout (building in place would write build/ and egg-info there)."""
    root = tmp_path_factory.mktemp("packaging")
    source = root / "source"
    source.mkdir()
    for name in BUILD_INPUTS:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(path, source / name)
    dist = root / "dist"
    run(
        [sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "--no-build-isolation", "--no-index"]
        + ["-w", str(dist)],
        env=clean_env(),
    )
    (built,) = dist.glob("synthaug-*.whl")
    return built


@pytest.fixture(scope="module")
def venv(wheel, tmp_path_factory) -> dict[str, Path]:
    """A new virtual environment with the wheel installed: ``{"python", "scripts", "purelib"}``."""
    root = tmp_path_factory.mktemp("venv") / "env"
    run([sys.executable, "-m", "venv", "--without-pip", str(root)])
    bindir = root / ("Scripts" if os.name == "nt" else "bin")
    python = bindir / ("python.exe" if os.name == "nt" else "python")
    paths = json.loads(
        run(
            [str(python), "-I", "-c", "import json, sysconfig; print(json.dumps(sysconfig.get_paths()))"],
            env=clean_env(),
        ).stdout
    )
    # This interpreter's pip installs into the new environment (pip >= 22.3), so the new
    # environment needs no pip of its own. The dependency .pth comes after: pip would
    # otherwise see the development install of synthaug and skip a same-version wheel.
    run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index", str(wheel)],
        env=clean_env(),
    )
    purelib = Path(paths["purelib"])
    dependency_dirs: list[str] = []
    for name in CORE_IMPORTS:
        spec = importlib.util.find_spec(name)
        assert spec is not None and spec.origin is not None, f"{name} is not importable here"
        directory = str(Path(spec.origin).resolve().parents[1])
        if directory not in dependency_dirs:
            dependency_dirs.append(directory)
    (purelib / "_synthaug_test_dependencies.pth").write_text("\n".join(dependency_dirs) + "\n", encoding="utf-8")
    return {"python": python, "scripts": Path(paths["scripts"]), "purelib": purelib}


def wheel_metadata(wheel: Path) -> tuple[list[str], email.message.Message, str | None]:
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        (metadata_name,) = [n for n in names if n.endswith(".dist-info/METADATA")]
        metadata = email.parser.Parser().parsestr(archive.read(metadata_name).decode("utf-8"))
        licences = [n for n in names if ".dist-info/" in n and n.rsplit("/", 1)[1] == "LICENSE"]
        licence = archive.read(licences[0]).decode("utf-8") if licences else None
    return names, metadata, licence


@pytest.mark.slow
def test_wheel_holds_the_package_licence_and_type_marker(wheel):
    names, metadata, licence = wheel_metadata(wheel)
    assert metadata["Name"] == "synthaug"
    assert metadata["Version"] == synthaug.__version__
    assert wheel.name.startswith(f"synthaug-{synthaug.__version__}-")
    assert metadata["License-Expression"] == "Apache-2.0"
    assert licence == (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert "synthaug/py.typed" in names
    assert "synthaug/utils/optional.py" in names
    # Nothing but the package and its metadata: no tests, scripts, bench or docs.
    assert {n.split("/")[0] for n in names} == {"synthaug", f"synthaug-{synthaug.__version__}.dist-info"}
    # The optional features are extras, not requirements.
    requires = metadata.get_all("Requires-Dist")
    assert any(r.startswith("torchmetrics") and 'extra == "metrics"' in r for r in requires)
    assert any(r.startswith("matplotlib") and 'extra == "plots"' in r for r in requires)
    assert any(r.startswith("tensorboard") and 'extra == "tensorboard"' in r for r in requires)
    optional = ("torchmetrics", "albumentations", "matplotlib", "tensorboard")
    assert not any(r.startswith(optional) and "extra ==" not in r for r in requires)


INSPECT_INSTALL = """
import importlib.metadata, json, pathlib, sys
import synthaug
print(json.dumps({
    "file": synthaug.__file__,
    "version": synthaug.__version__,
    "metadata_version": importlib.metadata.version("synthaug"),
    "dist_location": str(importlib.metadata.distribution("synthaug").locate_file("")),
    "py_typed": (pathlib.Path(synthaug.__file__).parent / "py.typed").is_file(),
    "finders": [getattr(f, "__name__", type(f).__name__) for f in sys.meta_path],
    "editable_modules": sorted(m for m in sys.modules if "editable" in m),
}))
"""


@pytest.mark.slow
def test_the_wheel_is_what_imports_in_the_new_environment(venv, tmp_path):
    # -I: no PYTHON* variables, no current directory on sys.path; cwd is outside the checkout anyway.
    done = run([str(venv["python"]), "-I", "-c", INSPECT_INSTALL], cwd=tmp_path, env=clean_env())
    found = json.loads(done.stdout.strip().splitlines()[-1])
    purelib = venv["purelib"].resolve()
    assert Path(found["file"]).resolve().is_relative_to(purelib), found["file"]
    assert Path(found["dist_location"]).resolve() == purelib
    assert found["version"] == found["metadata_version"] == synthaug.__version__
    assert found["py_typed"]
    assert not [f for f in found["finders"] if "Editable" in f], found["finders"]
    assert found["editable_modules"] == []


@pytest.mark.slow
def test_the_console_script_runs_from_the_new_environment(venv, tmp_path):
    script = venv["scripts"] / ("synthaug.exe" if os.name == "nt" else "synthaug")
    assert script.is_file()
    if os.name != "nt":
        assert script.read_text(encoding="utf-8").splitlines()[0] == f"#!{venv['python']}"
    done = run([str(script), "--version"], cwd=tmp_path, env=clean_env())
    assert done.stdout.strip() == f"synthaug {synthaug.__version__}"
