"""Rendering: shards, determinism (bit for bit), atomic shard directories, the embedded DCGAN."""

import numpy as np
import pytest
import torch
from PIL import Image

from ganatlas.latent import sample_z
from ganatlas.networks import load_network
from ganatlas.networks.tiny import TinyGenerator
from ganatlas.render import image_name, render_to_dir, shard_ranges, synthesize


def test_shard_ranges_cover_every_step_once():
    assert shard_ranges(40, 20) == [(0, 20), (20, 40)]
    assert shard_ranges(45, 20) == [(0, 20), (20, 40), (40, 45)]
    with pytest.raises(ValueError, match="shard_size must be >= 1"):
        shard_ranges(10, 0)


def test_image_names_sort_by_seed_then_step():
    assert image_name(3, 42) == "seed0003_step00042.png"
    names = [image_name(s, t) for s in (2, 10) for t in (9, 100)]
    assert names == sorted(names)


def test_synthesize_is_deterministic_and_batch_independent():
    g = TinyGenerator(img_resolution=16)
    w = g.mapping(sample_z(10, g.z_dim, 0))[:, 0].numpy()
    a = synthesize(g, w, batch_size=10)
    b = synthesize(g, w, batch_size=3)
    assert a.shape == (10, 16, 16, 3) and a.dtype == np.uint8
    np.testing.assert_array_equal(a, b)


def test_render_to_dir_writes_pngs_atomically(tmp_path):
    g = TinyGenerator(img_resolution=16)
    w = np.random.default_rng(0).standard_normal((5, g.w_dim)).astype(np.float32)
    names = [image_name(1, i) for i in range(5)]
    out = tmp_path / "shard0"
    out.mkdir()
    (out / "stale.png").write_bytes(b"old")  # a previous, incomplete attempt
    paths = render_to_dir(g, w, names, out, batch_size=2)
    assert sorted(p.name for p in out.iterdir()) == names
    assert [p.name for p in tmp_path.iterdir()] == ["shard0"]  # no temporary folder left
    img = np.asarray(Image.open(paths[3]))
    np.testing.assert_array_equal(img, synthesize(g, w[3:4])[0])
    with pytest.raises(ValueError, match="2 names for 5 latents"):
        render_to_dir(g, w, names[:2], tmp_path / "x")


def test_embedded_dcgan_renders_faces_deterministically():
    g = load_network("digiface-dcgan")
    assert (g.z_dim, g.w_dim, g.num_ws, g.img_resolution) == (100, 100, 1, 64)
    z = sample_z(4, 100, seed=123)
    with torch.no_grad():
        ws = g.mapping(z)
        torch.testing.assert_close(ws[:, 0], z)  # Z-only: W = Z
        img = g.synthesis(ws, noise_mode="const")
    assert img.shape == (4, 3, 64, 64)
    assert img.min() >= -1 and img.max() <= 1 and img.std() > 0.2
    np.testing.assert_array_equal(synthesize(g, z.numpy()), synthesize(g, z.numpy()))
