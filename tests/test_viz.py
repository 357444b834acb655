"""PNG writers: sample grids, loss curves and score charts."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch
from PIL import Image

from synthaug.viz import (
    class_grid_labels,
    save_generator_grid,
    save_image_grid,
    save_loss_curves,
    save_score_chart,
)


def assert_png(path):
    assert path.is_file() and path.stat().st_size > 0
    with Image.open(path) as image:
        assert image.format == "PNG"
        image.verify()
        assert image.size[0] > 0 and image.size[1] > 0
    assert not [n for n in os.listdir(path.parent) if n.startswith(".")]


def test_class_grid_labels():
    assert class_grid_labels(3, 2).tolist() == [0, 0, 1, 1, 2, 2]


@pytest.mark.parametrize("channels", [1, 3])
def test_save_image_grid(tmp_path, channels):
    path = save_image_grid(
        torch.rand(6, channels, 8, 8), per_row=3, path=tmp_path / "grid.png", row_labels=["a", "b"], title="title"
    )
    assert path == tmp_path / "grid.png"
    assert_png(path)


def test_save_image_grid_refuses_a_single_image(tmp_path):
    with pytest.raises(ValueError, match="N, C, H, W"):
        save_image_grid(torch.rand(1, 8, 8), per_row=1, path=tmp_path / "grid.png")
    assert not (tmp_path / "grid.png").exists()


@pytest.mark.parametrize("family", ["cgan", "cvae", "wrap"])
def test_save_generator_grid(tmp_path, generator_factory, family):
    gen = generator_factory(family, class_names=["left", "right", "top"])
    path = save_generator_grid(gen, tmp_path / "sub" / "samples.png", per_class=4, seed=1, title="samples")
    assert_png(path)


def test_save_generator_grid_is_deterministic(tmp_path, generator_factory):
    gen = generator_factory("cgan")
    a = save_generator_grid(gen, tmp_path / "a.png", per_class=2, seed=3)
    b = save_generator_grid(gen, tmp_path / "b.png", per_class=2, seed=3)
    with Image.open(a) as image_a, Image.open(b) as image_b:
        assert np.array_equal(np.asarray(image_a), np.asarray(image_b))


@pytest.mark.parametrize("per_class", [0, -1, 1.5, True])
def test_save_generator_grid_bad_per_class(tmp_path, generator_factory, per_class):
    with pytest.raises(ValueError, match="per_class"):
        save_generator_grid(generator_factory("cgan"), tmp_path / "g.png", per_class=per_class)


def test_save_loss_curves(tmp_path):
    records = [{"step": s, "epoch": 1, "loss_d": 1.0 / s, "loss_g": float(s)} for s in range(1, 6)]
    assert_png(save_loss_curves(records, tmp_path / "curves.png", title="losses"))


@pytest.mark.parametrize("records", [[], [{"step": 1, "epoch": 1, "seconds": 0.1}]], ids=["empty", "no-loss-keys"])
def test_save_loss_curves_without_losses(tmp_path, records):
    with pytest.raises(ValueError, match="loss"):
        save_loss_curves(records, tmp_path / "curves.png")
    assert not (tmp_path / "curves.png").exists()


@pytest.mark.parametrize("values", [[84.1, 85.3, float("nan")], [1.0, 1.0, 1.0]])
def test_save_score_chart(tmp_path, values):
    path = save_score_chart(
        ["real only", "ratio=0.1", "skipped"],
        values,
        tmp_path / "scores.png",
        errors=[0.5, float("nan"), float("nan")],
        baseline=values[0],
        highlight=1,
        title="t",
    )
    assert path == tmp_path / "scores.png"
    assert_png(path)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(labels=[], values=[]), "labels must name at least one bar"),
        (dict(labels=["a"], values=[1.0, 2.0]), r"values must hold one score per label \(1\), got 2"),
        (dict(labels=["a"], values=[1.0], errors=[]), r"errors must hold one value per label \(1\), got 0"),
        (dict(labels=["a"], values=[1.0], highlight=1), r"highlight must be an index in \[0, 1\), got 1"),
    ],
)
def test_save_score_chart_bad_input(tmp_path, kwargs, match):
    with pytest.raises(ValueError, match=match):
        save_score_chart(path=tmp_path / "x.png", **kwargs)
    assert not (tmp_path / "x.png").exists()
