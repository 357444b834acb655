"""ConditionalVAE's encoder/decoder API beyond the shared protocol."""

from __future__ import annotations

import pytest
import torch

import synthaug


@pytest.fixture
def vae(generator_factory):
    return generator_factory("cvae", channels=3)


def test_encode_returns_mu_and_logvar(vae):
    images = torch.rand(5, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    labels = torch.tensor([0, 1, 2, 0, 1])
    with torch.no_grad():
        mu, logvar = vae.encode(images, labels)
    assert mu.shape == (5, 8) and logvar.shape == (5, 8)
    assert mu.dtype == torch.float32 and logvar.dtype == torch.float32
    assert torch.isfinite(mu).all() and torch.isfinite(logvar).all()
    assert float(logvar.min()) >= -10 and float(logvar.max()) <= 10


def test_encoding_depends_on_the_label(vae):
    vae.eval()
    images = torch.rand(1, 3, 8, 8, generator=torch.Generator().manual_seed(0)).expand(3, -1, -1, -1)
    mu, _ = vae.encode(images, torch.tensor([0, 1, 2]))
    assert not torch.allclose(mu[0], mu[1]) and not torch.allclose(mu[1], mu[2])


def test_decode_returns_images_in_0_1(vae):
    vae.eval()
    z = 3 * torch.randn(4, 8, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        images = vae.decode(z, torch.tensor([0, 1, 2, 0]))
    assert images.shape == (4, 3, 8, 8)
    assert float(images.min()) >= 0 and float(images.max()) <= 1


def test_encode_decode_is_differentiable(vae):
    images = torch.rand(4, 3, 8, 8)
    labels = torch.tensor([0, 1, 2, 0])
    mu, logvar = vae.encode(images, labels)
    z = vae.reparameterize(mu, logvar, generator=torch.Generator().manual_seed(0))
    vae.decode(z, labels).sum().backward()
    assert all(p.grad is not None for p in vae.encoder.parameters())


def test_reparameterize_is_reproducible_with_a_generator():
    mu, logvar = torch.zeros(3, 8), torch.zeros(3, 8)
    a = synthaug.ConditionalVAE.reparameterize(mu, logvar, generator=torch.Generator().manual_seed(1))
    b = synthaug.ConditionalVAE.reparameterize(mu, logvar, generator=torch.Generator().manual_seed(1))
    c = synthaug.ConditionalVAE.reparameterize(mu, logvar, generator=torch.Generator().manual_seed(2))
    assert torch.equal(a, b) and not torch.equal(a, c)
    shifted = synthaug.ConditionalVAE.reparameterize(mu + 2, logvar, generator=torch.Generator().manual_seed(1))
    assert torch.allclose(shifted, a + 2)
    no_variance = synthaug.ConditionalVAE.reparameterize(mu + 2, torch.full((3, 8), -100.0))
    assert torch.allclose(no_variance, mu + 2)


def test_encode_checks_its_inputs(vae):
    with pytest.raises(ValueError, match="images"):
        vae.encode(torch.rand(2, 1, 8, 8), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="labels"):
        vae.encode(torch.rand(2, 3, 8, 8), torch.tensor([0, 3]))
    with pytest.raises(TypeError, match="labels"):
        vae.encode(torch.rand(2, 3, 8, 8), torch.tensor([0.0, 1.0]))
