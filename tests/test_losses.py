"""synthaug.losses: the long-tail losses do what their papers specify."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from synthaug import losses

COUNTS = [100, 30, 5]


@pytest.fixture
def batch():
    rng = torch.Generator().manual_seed(0)
    logits = torch.randn(16, 3, generator=rng, requires_grad=True)
    targets = torch.randint(0, 3, (16,), generator=rng)
    return logits, targets


def test_logit_adjusted_loss_is_cross_entropy_on_logits_plus_tau_log_prior(batch):
    logits, targets = batch
    prior = torch.tensor(COUNTS, dtype=torch.float64) / sum(COUNTS)
    for tau in (0.5, 1.0, 2.0):
        expected = F.cross_entropy(logits + tau * prior.log().float(), targets)
        assert torch.allclose(losses.LogitAdjustedLoss(COUNTS, tau=tau)(logits, targets), expected)


def test_logit_adjustment_changes_the_loss_towards_the_rare_classes(batch):
    logits, targets = batch
    plain = F.cross_entropy(logits, targets, reduction="none")
    adjusted = losses.LogitAdjustedLoss(COUNTS, reduction="none")(logits, targets)
    # The frequent class's logit is raised before the softmax: its items cost less, the rarest's more.
    assert bool((adjusted[targets == 0] < plain[targets == 0]).all())
    assert bool((adjusted[targets == 2] > plain[targets == 2]).all())


def test_tau_zero_and_a_uniform_prior_are_plain_cross_entropy(batch):
    logits, targets = batch
    plain = F.cross_entropy(logits, targets)
    assert torch.allclose(losses.LogitAdjustedLoss(COUNTS, tau=0.0)(logits, targets), plain)
    assert torch.allclose(losses.LogitAdjustedLoss([7, 7, 7])(logits, targets), plain)


def test_balanced_softmax_is_the_logit_adjusted_loss_at_tau_one(batch):
    logits, targets = batch
    assert torch.allclose(
        losses.BalancedSoftmaxLoss(COUNTS)(logits, targets), losses.LogitAdjustedLoss(COUNTS, tau=1.0)(logits, targets)
    )


def test_the_loss_takes_probability_targets_and_keeps_gradients(batch):
    logits, targets = batch
    soft = F.one_hot(targets, 3).float()
    criterion = losses.LogitAdjustedLoss(np.array(COUNTS))
    assert torch.allclose(criterion(logits, soft), criterion(logits, targets))
    criterion(logits, targets).backward()
    assert logits.grad is not None and bool(logits.grad.abs().sum() > 0)


def test_posthoc_adjustment_subtracts_the_log_prior_and_favours_rare_classes():
    logits = torch.zeros(1, 3)
    adjusted = losses.posthoc_logit_adjustment(logits, COUNTS)
    prior = torch.tensor(COUNTS, dtype=torch.float64) / sum(COUNTS)
    assert torch.allclose(adjusted, -prior.log().float()[None])
    assert int(adjusted.argmax()) == 2


def test_effective_number_weights_rank_classes_inversely_and_sum_to_k():
    weights = losses.effective_number_weights(COUNTS, beta=0.999)
    assert weights.shape == (3,)
    assert float(weights.sum()) == pytest.approx(3.0)
    assert float(weights[0]) < float(weights[1]) < float(weights[2])
    assert torch.allclose(losses.effective_number_weights(COUNTS, beta=0.0), torch.ones(3))


def test_deferred_reweighting_switches_from_plain_to_weighted_at_start_step(batch):
    logits, targets = batch
    drw = losses.DeferredReweighting(COUNTS, start_step=5, beta=0.99)
    drw.set_step(4)
    assert not drw.reweighting and drw.weight() is None
    assert torch.allclose(drw(logits, targets), F.cross_entropy(logits, targets))
    drw.step()
    assert drw.reweighting
    weighted = F.cross_entropy(logits, targets, weight=losses.effective_number_weights(COUNTS, beta=0.99))
    assert torch.allclose(drw(logits, targets), weighted)


def test_reduction_none_gives_one_loss_per_item(batch):
    logits, targets = batch
    assert losses.LogitAdjustedLoss(COUNTS, reduction="none")(logits, targets).shape == (16,)
    assert losses.DeferredReweighting(COUNTS, 0, reduction="none")(logits, targets).shape == (16,)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: losses.LogitAdjustedLoss([10, 0, 3]), r"classes with no items \(\[1\]\)"),
        (lambda: losses.LogitAdjustedLoss([10]), "at least 2 per-class counts"),
        (lambda: losses.LogitAdjustedLoss([10, -1]), "non-negative"),
        (lambda: losses.LogitAdjustedLoss(COUNTS, tau=-1), "tau must be"),
        (lambda: losses.LogitAdjustedLoss(COUNTS, reduction="avg"), "reduction must be one of"),
        (lambda: losses.DeferredReweighting(COUNTS, start_step=-1), "start_step must be"),
        (lambda: losses.effective_number_weights(COUNTS, beta=1.0), "beta must be"),
        (lambda: losses.LogitAdjustedLoss(COUNTS, weight=torch.ones(2)), r"weight must be \[3\]"),
    ],
)
def test_bad_arguments_name_themselves(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_logits_of_the_wrong_width_are_refused(batch):
    _, targets = batch
    with pytest.raises(ValueError, match=r"logits must have shape \[B, 3\]"):
        losses.LogitAdjustedLoss(COUNTS)(torch.zeros(16, 4), targets)
    with pytest.raises(TypeError, match="class_counts must be"):
        losses.LogitAdjustedLoss("many")
