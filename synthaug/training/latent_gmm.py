"""Post-hoc latent density for the cVAE: a Gaussian mixture per class over encoded images.

A VAE's KL term pulls the aggregate posterior towards N(0, I) but never reaches it, so
prior samples land partly in regions no training image encodes to, which decode to
blurry or off-class images. Fitting a small mixture to where the training images do
encode (Ghosh et al. 2020, "From Variational to Deterministic Autoencoders") and
sampling from it instead is a cheap, well-documented fix; scikit-learn's
``GaussianMixture`` does the fitting.
"""

from __future__ import annotations

import logging

import numpy as np
import torch

from synthaug.data.streaming import TrainingData
from synthaug.generators.cvae import ConditionalVAE
from synthaug.validation import check_int

logger = logging.getLogger(__name__)


@torch.no_grad()
def encode_means(vae: ConditionalVAE, data: TrainingData, batch_size: int = 512) -> torch.Tensor:
    """Posterior means ``mu [N, latent_dim]`` of ``data`` (on the CPU), in eval mode.

    ``data`` in memory or streamed (its batches then decoded by DataLoader workers).
    """
    was_training = vae.training
    vae.eval()
    try:
        parts = [
            vae.encode(images.to(vae.device), labels.to(vae.device))[0].cpu()
            for images, labels in data.iter_batches(batch_size)
        ]
    finally:
        vae.train(was_training)
    return torch.cat(parts)


def fit_latent_gmm(vae: ConditionalVAE, data: TrainingData, components: int = 10, seed: int = 0) -> dict[int, int]:
    """Fit a diagonal Gaussian mixture per class to the encoded ``data`` and install it.

    A class with fewer images than ``components`` gets one component per image at most;
    a class with no images keeps the prior (one component, mean 0, variance 1).

    Returns:
        ``{class index: components used}``.
    """
    from sklearn.mixture import GaussianMixture

    check_int("components", components, low=1, high=64)
    mu = encode_means(vae, data).double().numpy()
    labels = data.labels.numpy()
    k, d = vae.num_classes, vae.latent_dim
    weights = np.zeros((k, components))
    means = np.zeros((k, components, d))
    variances = np.ones((k, components, d))
    used = {}
    for c in range(k):
        points = mu[labels == c]
        if len(points) < 2:
            weights[c, 0] = 1.0  # too little to fit: fall back to the prior for this class
            used[c] = 0
            continue
        m = min(components, len(points))
        gmm = GaussianMixture(m, covariance_type="diag", reg_covar=1e-4, random_state=seed).fit(points)
        weights[c, :m], means[c, :m], variances[c, :m] = gmm.weights_, gmm.means_, gmm.covariances_
        used[c] = m
    weights /= weights.sum(axis=1, keepdims=True)
    vae.set_latent_gmm(torch.from_numpy(weights), torch.from_numpy(means), torch.from_numpy(variances))
    logger.info("fitted latent mixtures: %s components per class", used)
    return used
