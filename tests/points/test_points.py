"""Named latent points: syntax, up-front errors naming the key, resolution against a network."""

from __future__ import annotations

import numpy as np
import pytest

from ganatlas.points import (
    Network,
    PointError,
    Term,
    boundaries_used,
    files_used,
    network_of,
    parse_expression,
    parse_points,
    resolve_points,
    seed_z,
)


def fake_net(z_dim=4, w_dim=3, num_ws=2, has_wplus=True) -> Network:
    """W = the first w_dim entries of 2 z + 1 (easy to check by hand); w_avg = [1, 1, 1]."""
    return Network(
        z_dim, w_dim, num_ws, np.ones(w_dim, np.float32),
        lambda z: (2 * np.asarray(z)[:, :w_dim] + 1).astype(np.float32), "fake", has_wplus,
    )  # fmt: skip


def test_seed_z_is_numpy_randomstate_randn():
    ref = np.random.RandomState(6).randn(1, 512)[0]
    np.testing.assert_array_equal(seed_z(6, 512), ref.astype(np.float32))
    assert seed_z(6, 512).dtype == np.float32


def test_expression_terms():
    terms = parse_expression("a - b + 0.5*c - 2 * boundary:smile + e:3*1.5", "points.x")
    assert terms == (
        Term(1.0, "ref", "a"),
        Term(-1.0, "ref", "b"),
        Term(0.5, "ref", "c"),
        Term(-2.0, "boundary", "smile"),
        Term(1.5, "basis", 3),
    )
    assert parse_expression("-seed:3", "k") == (Term(-1.0, "seed", 3),)
    assert parse_expression("my-dir/lat-1.npz:w + zero", "k") == (
        Term(1.0, "file", ("my-dir/lat-1.npz", "w")),
        Term(1.0, "zero", None),
    )


@pytest.mark.parametrize(
    "points, needle",
    [
        (
            {"a": "seed:1 + bogus"},
            r"points\.a: unknown point 'bogus'; defined points: a; atoms: seed:N",
        ),
        ({"a": "seed:x"}, r"points\.a: cannot read 'seed:x' as a point; allowed: seed:N, w:N"),
        ({"a": "seed:1 +seed:2"}, r"points\.a: cannot read the term 'seed:1 \+seed:2'"),
        ({"a": {"expr": "w_avg"}}, r"points\.a: w_avg is a W vector; give the point space: w"),
        ({"a": {"expr": "zero", "space": "s"}}, r"points\.a\.space: got 's'; allowed: z, w, w\+"),
        ({"a": {"expr": "zero", "psi": "x"}}, r"points\.a\.psi"),
        ({"a": {"expr": "zero", "spac": "z"}}, r"points\.a: unknown key\(s\) \['spac'\]"),
        ({"a": 3}, r"points\.a: expected a point expression"),
        ({"w_avg": "zero"}, r"points\.w_avg: a point name"),
        ({"a": "b", "b": "c", "c": "a"}, r"points\.a: .*cycle: a -> b -> c -> a"),
        ({"a": "seed:1", "b": {"expr": "a", "space": "w"}}, r"points\.b: 'a' is a z point"),
        ({"a": "boundary:age"}, r"points\.a: boundary:age was not trained in z .*: yaw, smile"),
        ({"a": {"expr": "boundary:smile", "space": "w+"}}, r"not trained in w .*: none"),
    ],
)
def test_bad_points_name_key_and_allowed(points, needle):
    with pytest.raises(PointError, match=needle):
        parse_points(points, "points", boundaries={"z": ["yaw", "smile"]})


def test_resolve_spaces_refs_files_psi(tmp_path):
    net = fake_net()
    np.save(tmp_path / "b.npy", np.array([[0.5, 0.0, -1.0]], np.float32))
    np.savez(tmp_path / "m.npz", ws=np.arange(6, dtype=np.float32).reshape(2, 3), other=np.zeros(1))
    np.save(tmp_path / "bd_z_smile.npy", np.array([[0, 1, 0, 0]], np.float32))
    specs = parse_points(
        {
            "a": "seed:6",
            "b": "seed:7",
            "d": "a - b + 0.5*e:1 + 2*boundary:smile",
            "wa": {"expr": "seed:6", "space": "w"},
            "wb": {"expr": "w:6 - w_avg + b.npy", "space": "w"},
            "t": {"expr": "wa", "space": "w", "psi": 0.5},
            "p": {"expr": "wa + m.npz:ws", "space": "w+"},
            "o": "zero",
        },
        boundaries={"z": ["smile"]},
    )
    assert boundaries_used(specs) == [("z", "smile")]
    assert files_used(specs) == ["b.npy", "m.npz"]
    pts = resolve_points(specs, net, lambda s, a: tmp_path / f"bd_{s}_{a}.npy", tmp_path)
    za, zb = seed_z(6, 4), seed_z(7, 4)
    np.testing.assert_array_equal(pts["a"], za)
    np.testing.assert_allclose(
        pts["d"], za - zb + np.array([0, 0.5, 0, 0]) + [0, 2, 0, 0], atol=1e-6
    )
    wa = 2 * za[:3] + 1
    np.testing.assert_allclose(pts["wa"], wa, rtol=1e-6)
    np.testing.assert_allclose(pts["wb"], wa - 1 + np.array([0.5, 0, -1]), rtol=1e-6)
    np.testing.assert_allclose(pts["t"], 1 + 0.5 * (wa - 1), rtol=1e-6)
    assert pts["p"].shape == (2, 3)
    np.testing.assert_allclose(pts["p"], wa[None] + np.arange(6).reshape(2, 3), rtol=1e-6)
    np.testing.assert_array_equal(pts["o"], np.zeros(4))


def test_resolve_errors_before_rendering(tmp_path):
    net = fake_net(has_wplus=False, num_ws=1)
    np.save(tmp_path / "big.npy", np.zeros(5, np.float32))
    np.savez(tmp_path / "two.npz", x=np.zeros(4), y=np.zeros(4))
    cases = [
        ({"p": {"expr": "zero", "space": "w+"}}, r"points\.p\.space: w\+ .*fake is Z-only \(num_ws = 1\)"),
        ({"p": "big.npy"}, r"points\.p: file big.npy has shape \[5\]; a z point of fake needs \[4\]"),
        ({"p": "e:4"}, r"points\.p: e:4 is out of range; z has 4 axes"),
        ({"p": "two.npz"}, r"points\.p: .*two.npz has arrays \['x', 'y'\]; name one"),
        ({"p": "two.npz:q"}, r"has no array 'q'"),
        ({"p": "gone.npy"}, r"points\.p: latent file not found"),
        ({"p": "boundary:smile"}, r"points\.p: boundary:smile \(z\) not found at"),
    ]  # fmt: skip
    for points, needle in cases:
        with pytest.raises(PointError, match=needle):
            resolve_points(parse_points(points), net, lambda s, a: tmp_path / "no.npy", tmp_path)


def test_network_of_dcgan_is_z_only_and_maps_identity():
    from ganatlas.networks import load_network

    g = load_network("digiface-dcgan")
    net = network_of(g, "digiface-dcgan")
    assert (net.z_dim, net.w_dim, net.num_ws, net.has_wplus) == (100, 100, 1, False)
    z = seed_z(3, 100)[None]
    np.testing.assert_allclose(net.map_z(z), z, rtol=1e-6)
    np.testing.assert_array_equal(net.w_avg, np.zeros(100))
