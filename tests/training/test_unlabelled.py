"""fit(labelled, unlabelled=...): a pool without labels, pseudo-labelled for the GAN and VAE, used whole by the DAE."""

from __future__ import annotations

import json

import pytest
import torch
from conftest import build_dae, make_pattern_data
from torch import nn

from synthaug.cli import main
from synthaug.data.real import LabelledImages
from synthaug.training import CGANTrainer, CVAETrainer, DAETrainer
from synthaug.training.base import PSEUDO_LABELS_NAME
from synthaug.training.pseudo_labels import pseudo_label, unlabelled_images

SETTINGS = dict(batch_size=8, log_every=1, sample_every=0, progress=False, seed=1, pseudo_label_steps=60)


class FixedLogits(nn.Module):
    """A 'classifier' whose logits are given per image: its first pixel picks a row of ``table``."""

    def __init__(self, table: torch.Tensor) -> None:
        super().__init__()
        self.table = nn.Parameter(table, requires_grad=False)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.table[images[:, 0, 0, 0].round().long()]


def test_pseudo_label_keeps_exactly_the_confident_labels():
    # rows: probabilities about 0.97 for class 1, 0.58 for class 0, 0.9 for class 2 (at the threshold)
    table = torch.tensor([[0.0, 3.5, 0.0], [0.5, 0.0, 0.0], [0.0, 0.0, 0.0]])
    table[2] = torch.tensor([0.0, 0.0, torch.log(torch.tensor(18.0))])  # softmax -> 18/20 = 0.9
    images = torch.zeros(6, 1, 4, 4)
    images[:, 0, 0, 0] = torch.tensor([0, 1, 2, 0, 1, 2]).float()
    result = pseudo_label(FixedLogits(table), images, threshold=0.9, batch_size=4)
    assert result.predicted.tolist() == [1, 0, 2, 1, 0, 2]
    assert result.kept.tolist() == [True, False, True, True, False, True]
    assert result.data.labels.tolist() == [1, 2, 1, 2]
    assert torch.equal(result.data.images, images[result.kept])
    assert bool((result.confidence[result.kept] >= 0.9 - 1e-6).all())
    assert result.kept_per_class(3) == [0, 2, 2]
    assert result.summary(3, ["a", "b", "c"])["kept_per_class"] == {"a": 0, "b": 2, "c": 2}
    assert not pseudo_label(FixedLogits(table), images, threshold=1.0).kept.any()


@pytest.mark.parametrize(
    "bad, error, says",
    [
        (torch.zeros(0, 1, 8, 8), ValueError, "empty"),
        (torch.zeros(4, 8, 8), ValueError, r"\[N, C, H, W\]"),
        ("pool", TypeError, "unlabelled must be an image tensor"),
    ],
)
def test_bad_pools_are_refused(bad, error, says):
    with pytest.raises(error, match=says):
        unlabelled_images(bad)


@pytest.mark.parametrize("trainer_cls, family", [(CGANTrainer, "cgan"), (CVAETrainer, "cvae")])
def test_generators_learn_from_the_pool_through_confident_pseudo_labels(
    trainer_cls, family, generator_factory, tmp_path
):
    labelled = make_pattern_data(4, seed=0)  # 12 labelled images
    pool = make_pattern_data(40, seed=5)  # 120 more, labels withheld
    trainer = trainer_cls(generator_factory(family), tmp_path / "semi", epochs=2, **SETTINGS)
    result = trainer.fit(labelled, unlabelled=pool.images)

    pseudo = trainer.pseudo_labels
    assert pseudo is not None and len(pseudo.kept) == 120
    kept = int(pseudo.kept.sum())
    assert kept >= 60  # three easy patterns: most of the pool is labelled confidently...
    accuracy = float((pseudo.predicted[pseudo.kept] == pool.labels[pseudo.kept]).float().mean())
    assert accuracy >= 0.95  # ...and correctly
    # The pool is used: an epoch now covers labelled + kept images (and the steps count them).
    assert result.steps == 2 * ((12 + kept) // 8)
    alone = trainer_cls(generator_factory(family), tmp_path / "alone", epochs=2, **SETTINGS).fit(labelled)
    assert alone.steps == 2 * (12 // 8) < result.steps
    record = json.loads((tmp_path / "semi" / PSEUDO_LABELS_NAME).read_text())
    assert record["pool"] == 120 and record["kept"] == kept and record["threshold"] == 0.9


def test_training_on_the_pool_lowers_the_loss(generator_factory, tmp_path):
    labelled, pool = make_pattern_data(4, seed=0), make_pattern_data(40, seed=5)
    result = CVAETrainer(generator_factory("cvae"), tmp_path / "run", epochs=4, lr=3e-3, **SETTINGS).fit(
        labelled, unlabelled=pool
    )
    losses = [record["loss"] for record in result.history]
    assert sum(losses[-3:]) / 3 < sum(losses[:3]) / 3


def test_same_seed_same_pseudo_labels_and_weights(generator_factory, tmp_path):
    labelled, pool = make_pattern_data(4, seed=0), make_pattern_data(20, seed=5).images
    runs = []
    for name in ("a", "b"):
        trainer = CGANTrainer(generator_factory("cgan"), tmp_path / name, epochs=1, **SETTINGS)
        trainer.fit(labelled, unlabelled=pool)
        runs.append((trainer.pseudo_labels.predicted, trainer.model.state_dict()))
    assert torch.equal(runs[0][0], runs[1][0])
    assert all(torch.equal(runs[0][1][k], runs[1][1][k]) for k in runs[0][1])


def test_the_denoiser_uses_every_pool_image(tmp_path):
    labelled, pool = make_pattern_data(4, seed=0), make_pattern_data(8, seed=5)
    trainer = DAETrainer(build_dae(), tmp_path / "dae", epochs=1, **SETTINGS)
    result = trainer.fit(labelled, unlabelled=pool)
    assert trainer.pseudo_labels is None and result.steps == (12 + 24) // 8


def test_a_pool_of_another_image_shape_is_refused(generator_factory, tmp_path):
    trainer = CGANTrainer(generator_factory("cgan"), tmp_path / "x", epochs=1, **SETTINGS)
    with pytest.raises(ValueError, match="shape"):
        trainer.fit(make_pattern_data(4), unlabelled=torch.rand(5, 1, 16, 16))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        trainer.fit(make_pattern_data(4), unlabelled=torch.full((5, 1, 8, 8), 2.0))


def test_bad_pseudo_label_settings_are_refused(generator_factory, tmp_path):
    with pytest.raises(ValueError, match="pseudo_label_threshold"):
        CGANTrainer(generator_factory("cgan"), tmp_path / "x", pseudo_label_threshold=1.5)
    with pytest.raises(ValueError, match="pseudo_label_steps must be a positive int"):
        CGANTrainer(generator_factory("cgan"), tmp_path / "x", pseudo_label_steps=0)


def test_cli_unlabelled_pool_is_recorded_and_replayed(tmp_path, capsys):
    out = tmp_path / "run"
    argv = [
        "train",
        "cvae",
        "--data",
        "digits",
        "--unlabelled",
        "digits",
        "--steps",
        "3",
        "--batch-size",
        "32",
        "--pseudo-label-steps",
        "150",
        "--pseudo-label-threshold",
        "0.5",
        "--no-progress",
        "--out",
        str(out),
    ]
    assert main(argv) == 0, capsys.readouterr().err
    assert "unlabelled pool: kept" in capsys.readouterr().out
    config = json.loads((out / "training_config.json").read_text())
    assert config["data"]["unlabelled"] == "digits"
    assert config["training"]["pseudo_label_threshold"] == 0.5 and config["training"]["pseudo_label_steps"] == 150
    record = json.loads((out / PSEUDO_LABELS_NAME).read_text())
    assert record["pool"] == 1347 and record["kept"] > 0
    assert main(["train", "--config", str(out / "training_config.json"), "--out", str(tmp_path / "again")]) == 0
    assert (tmp_path / "again" / PSEUDO_LABELS_NAME).read_text() == (out / PSEUDO_LABELS_NAME).read_text()


def test_labelled_images_are_accepted_as_a_pool_and_their_labels_ignored():
    data = make_pattern_data(2)
    assert torch.equal(unlabelled_images(LabelledImages(data.images, data.labels)), data.images)


# -- M2: the semi-supervised cVAE (Kingma et al. 2014) -------------------------------------------------

M2 = dict(SETTINGS, semi_supervised="m2", lr=3e-3, kl_warmup_steps=0)


def test_m2_needs_the_vaes_own_classifier(generator_factory, tmp_path):
    with pytest.raises(ValueError, match="label_classifier=True"):
        CVAETrainer(generator_factory("cvae"), tmp_path / "x", **M2)
    with pytest.raises(ValueError, match="semi_supervised must be one of"):
        CVAETrainer(generator_factory("cvae", label_classifier=True), tmp_path / "x", semi_supervised="m3")


def test_m2_learns_the_pools_labels_and_uses_the_pool(generator_factory, tmp_path):
    labelled, pool = make_pattern_data(2, seed=0), make_pattern_data(30, seed=5)  # 6 labelled, 90 unlabelled
    trainer = CVAETrainer(generator_factory("cvae", label_classifier=True), tmp_path / "m2", steps=40, **M2)
    result = trainer.fit(labelled, unlabelled=pool.images)
    assert trainer.pseudo_labels is None  # M2 infers labels itself, no separate pseudo-labeller
    first, last = result.history[0], result.history[-1]
    assert {"loss_class", "loss_unlabelled"} <= set(last)
    assert last["loss"] < first["loss"] and last["loss_unlabelled"] < first["loss_unlabelled"]
    with torch.no_grad():
        predicted = trainer.model.classify_logits(pool.images).argmax(1)
    assert float((predicted == pool.labels).float().mean()) >= 0.9
    # The pool is used: without it the same seed ends elsewhere.
    alone = CVAETrainer(generator_factory("cvae", label_classifier=True), tmp_path / "alone", steps=40, **M2)
    assert "loss_unlabelled" not in alone.fit(labelled).history[-1]
    a, b = trainer.model.state_dict(), alone.model.state_dict()
    assert any(not torch.equal(a[k], b[k]) for k in a)


def test_m2_run_is_reproducible_and_resumes_exactly(generator_factory, tmp_path):
    labelled, pool = make_pattern_data(2, seed=0), make_pattern_data(6, seed=5).images
    straight = CVAETrainer(generator_factory("cvae", label_classifier=True), tmp_path / "a", steps=6, **M2)
    straight.fit(labelled, unlabelled=pool)
    first = CVAETrainer(
        generator_factory("cvae", label_classifier=True), tmp_path / "b", steps=3, checkpoint_every=1, **M2
    )
    first.fit(labelled, unlabelled=pool)
    resumed = CVAETrainer(generator_factory("cvae", label_classifier=True, seed=9), tmp_path / "b", steps=6, **M2)
    resumed.fit(labelled, unlabelled=pool, resume=True)
    a, b = straight.model.state_dict(), resumed.model.state_dict()
    assert all(torch.allclose(a[k].float(), b[k].float(), atol=1e-6) for k in a)


def test_cli_m2_builds_a_vae_with_a_classifier(tmp_path, capsys):
    import synthaug

    out = tmp_path / "m2"
    argv = [
        "train",
        "cvae",
        "--data",
        "digits",
        "--unlabelled",
        "digits",
        "--semi-supervised",
        "m2",
        "--steps",
        "2",
        "--batch-size",
        "16",
        "--gmm-components",
        "0",
        "--no-progress",
        "--out",
        str(out),
    ]
    assert main(argv) == 0, capsys.readouterr().err
    assert synthaug.load(out).config["label_classifier"] is True
    assert json.loads((out / "training_config.json").read_text())["training"]["semi_supervised"] == "m2"
    with pytest.raises(SystemExit):  # a cvae option, refused for a cgan
        main(["train", "cgan", "--data", "digits", "--semi-supervised", "m2", "--out", str(tmp_path / "g")])
