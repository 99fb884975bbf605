"""The projector: planted truth on a small random StyleGAN2 (W and W+), shapes for every family,
the noise regularisation, bad inputs."""

import numpy as np
import pytest
import torch

from ganatlas.networks.registry import FAMILIES
from ganatlas.studies.projection.losses import noise_regularization, normalize_noise_
from ganatlas.studies.projection.projector import (
    ProjectorSettings,
    latent_stats,
    noise_buffers,
    planted_distance,
    project,
)
from ganatlas.studies.projection.ssim import psnr


def planted(family: str = "stylegan2", seed: int = 1):
    g = FAMILIES[family].small()
    z = torch.randn(1, g.z_dim, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        ws = g.mapping(z, torch.zeros(1, g.c_dim))
        img = g.synthesis(ws, noise_mode="const")
    return g, ws, img


def settings(**kw):
    base = {"steps": 20, "w_avg_samples": 200, "weights": {"l2": 1.0}, "log_every": 0}
    return ProjectorSettings(**{**base, **kw})


@pytest.mark.slow  # 20 steps with backward through StyleGAN2: > 10 s on the busy 2-core machine
@pytest.mark.parametrize(("space", "min_psnr", "closer"), [("w", 22.0, 0.5), ("w+", 18.0, 1.0)])
def test_planted_w_is_recovered(space, min_psnr, closer):
    """In 20 steps: the stated PSNR, and w closer to the true w than w_avg is (W: half as far)."""
    g, ws_true, img = planted()
    stats = latent_stats(g, 200, 0)
    p = project(g, img, settings(space=space), stats=stats)
    start = stats[0].reshape(1, 1, -1).expand_as(ws_true)
    assert float(psnr(p.image, img)[0]) > min_psnr
    assert planted_distance(p.ws, ws_true) < closer * planted_distance(start, ws_true)
    loss = p.history["loss"]
    assert loss[-5:].mean() < 0.25 * loss[:5].mean()


def test_w_and_w_plus_shapes():
    g, _, img = planted()
    pw = project(g, img, settings(steps=3))
    pp = project(g, img, settings(steps=3, space="w+"))
    assert pw.ws.shape == pp.ws.shape == (1, g.num_ws, g.w_dim)
    assert torch.equal(pw.ws, pw.ws[:, :1].expand_as(pw.ws))  # W: one w repeated
    assert not torch.equal(pp.ws, pp.ws[:, :1].expand_as(pp.ws))  # W+: rows move apart
    assert pw.space == "w" and pp.space == "w+"
    assert pw.image.shape == img.shape


@pytest.mark.slow  # builds a StyleGAN3 (filter design) and backpropagates through it
def test_dcgan_is_projected_in_z_and_stylegan3_runs():
    g, _, img = planted("dcgan")
    p = project(g, img, settings(steps=3, space="w+"))
    assert p.space == "z" and p.ws.shape == (1, 1, g.z_dim)
    np.testing.assert_allclose(
        p.w_avg, np.zeros(g.z_dim), atol=0.3
    )  # the prior mean (4 sigma of 200)
    g3, _, img3 = planted("stylegan3")
    p3 = project(g3, img3, settings(steps=1, space="w+", w_avg_samples=20))
    assert p3.ws.shape == (1, g3.num_ws, g3.w_dim) and np.isfinite(p3.history["loss"]).all()


def test_latent_stats_match_nvidias_definition():
    g = FAMILIES["dcgan"].small()  # identity mapping: W = Z ~ N(0, I)
    w_avg, sigma = latent_stats(g, 4000, 0)
    z = torch.randn(4000, g.z_dim, generator=torch.Generator().manual_seed(0)).double()
    assert sigma == pytest.approx(float(((z - z.mean(0)).square().sum() / 4000) ** 0.5), rel=1e-5)
    assert sigma == pytest.approx(g.z_dim**0.5, rel=0.05)


def test_noise_buffers_are_optimised_and_stay_normalised():
    g, _, img = planted()
    names = [n for n, _ in noise_buffers(g)]
    assert names and all(n.endswith("noise_const") for n in names)
    for layer in g.synthesis.modules():  # noise that matters: non-zero strengths
        if hasattr(layer, "noise_strength"):
            layer.noise_strength.data.fill_(0.3)
    before = [b.clone() for _, b in noise_buffers(g)]
    p = project(g, img, settings(steps=5))
    after = [b for _, b in noise_buffers(g)]
    assert all(torch.equal(a, b) for a, b in zip(before, after, strict=True))  # g untouched
    assert (p.history["noise_reg"] > 0).all()


def test_noise_regularization_formula():
    n = torch.randn(16, 16, generator=torch.Generator().manual_seed(0))
    expected = 0.0
    x = n[None, None]
    while True:
        expected += float((x * x.roll(1, 3)).mean()) ** 2 + float((x * x.roll(1, 2)).mean()) ** 2
        if x.shape[2] <= 8:
            break
        x = torch.nn.functional.avg_pool2d(x, 2)
    assert float(noise_regularization([n])) == pytest.approx(expected, rel=1e-5)
    smooth = torch.ones(8, 8)  # fully correlated: each term (mean 1)^2
    assert float(noise_regularization([smooth])) == pytest.approx(2.0)
    bufs = [torch.randn(8, 8) * 3 + 1]
    normalize_noise_(bufs)
    assert float(bufs[0].mean()) == pytest.approx(0, abs=1e-6)
    assert float(bufs[0].square().mean()) == pytest.approx(1, abs=1e-5)


def test_bad_inputs():
    g, _, img = planted()
    with pytest.raises(ValueError, match=r"target must be \[1, 3, 16, 16\]"):
        project(g, img[..., :8, :8], settings(steps=1))
    with pytest.raises(ValueError, match="projection.space"):
        ProjectorSettings(space="z+")
    with pytest.raises(ValueError, match="projection.steps"):
        ProjectorSettings(steps=0)


def test_progress_lines_carry_an_eta():
    g, _, img = planted()
    lines = []
    project(g, img, settings(steps=4, log_every=2), log=lines.append)
    assert (
        len(lines) == 2 and "step 2/4" in lines[0] and "ETA" in lines[0] and "steps/s" in lines[0]
    )


@pytest.mark.slow  # Inception-ResNet-v1 forward and backward at 160 px: seconds on a busy CPU
def test_identity_loss_through_a_differentiable_facenet():
    from ganatlas.studies.projection.identity import facenet_embedder

    embed = facenet_embedder(random_init=True)  # the architecture; no weights are read
    g, _, img = planted()
    x = img.clone().requires_grad_(True)
    e = embed(x)
    assert e.shape == (1, 512) and float(e.detach().norm()) == pytest.approx(1.0, abs=1e-5)
    e.sum().backward()
    assert x.grad.abs().sum() > 0  # gradients reach the image
    p = project(g, img, settings(steps=1, weights={"l2": 1.0, "identity": 1.0}), identity=embed)
    assert len(p.history["identity"]) == 1 and np.isfinite(p.history["identity"]).all()


class _TinyVGG(torch.nn.Module):
    """NVIDIA's vgg16.pt call interface on a 1-conv network: ``(img in [0, 255], resize_images,
    return_lpips) -> [N, F]``; its weight is saved requiring grad."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 2, 3)

    def forward(
        self, img: torch.Tensor, resize_images: bool = True, return_lpips: bool = False
    ) -> torch.Tensor:
        assert not resize_images and return_lpips
        return self.conv(img / 255).flatten(1)


def test_load_vgg16_reads_nvidias_interface_and_freezes_weights(tmp_path):
    from ganatlas.studies.projection.losses import load_vgg16, lpips_distance, vgg16_path

    torch.manual_seed(0)
    net = _TinyVGG()
    path = tmp_path / "vgg16.pt"
    torch.jit.script(net).save(str(path))
    assert vgg16_path(str(path)) == path and vgg16_path(str(tmp_path / "none.pt")) is None
    features = load_vgg16(path, "cpu")
    img = torch.rand(1, 3, 8, 8) * 2 - 1  # [-1, 1] in, [0, 255] to the network
    with torch.no_grad():
        expected = net((img + 1) * 127.5, resize_images=False, return_lpips=True)
    torch.testing.assert_close(features(img), expected)
    # target features carry no graph, so a second backward pass (NVIDIA's loop) works
    target = features(torch.zeros(1, 3, 8, 8))
    assert not target.requires_grad
    synth = img.clone().requires_grad_(True)
    for _ in range(2):
        lpips_distance(features, synth, target).backward()
    assert synth.grad is not None and synth.grad.abs().sum() > 0
