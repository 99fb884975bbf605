"""The paths stages on the embedded DCGAN and the tiny StyleGAN-shaped network, without Snakemake."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from ganatlas.networks import load_network
from ganatlas.networks.resolve import describe_network
from ganatlas.points import seed_z
from ganatlas.render import synthesize
from ganatlas.studies.paths.stages import (
    layer_range,
    mix_ws,
    stage_axes,
    stage_interpolate,
    stage_mix,
    stage_planes,
    stage_video,
)

NO_DET = {"backend": "none"}


@pytest.fixture(scope="module")
def dcgan_info(tmp_path_factory):
    path = tmp_path_factory.mktemp("net") / "network.json"
    path.write_text(json.dumps(describe_network("digiface-dcgan")))
    return path


@pytest.fixture(scope="module")
def tiny_info(tmp_path_factory):
    path = tmp_path_factory.mktemp("tiny") / "network.json"
    path.write_text(json.dumps(describe_network("tiny-random")))
    return path


def test_axes_renders_z_dim_plus_two_images(dcgan_info, tmp_path):
    p = {"space": "z", "scale": 1.0, "count": None, "worst": 4, "columns": 16,
         "detector": NO_DET, "batch_size": 64, "noise_mode": "const"}  # fmt: skip
    out = {k: str(tmp_path / f) for k, f in
           [("table", "axes.parquet"), ("sheet", "sheet.png"), ("scariest", "s.png")]}  # fmt: skip
    df = stage_axes(dcgan_info, p, out)
    assert len(df) == 100 + 2
    assert df["label"].tolist()[:2] == ["e0", "e1"] and df["label"].tolist()[-2:] == [
        "zero",
        "w_avg",
    ]
    assert df["axis"].tolist() == [*range(100), -1, -1]
    assert pd.read_parquet(out["table"]).shape[0] == 102
    assert (tmp_path / "sheet.png").stat().st_size > 10_000 and (tmp_path / "s.png").is_file()


def test_plane_grid_equals_origin_plus_x_b_plus_y_c(dcgan_info, tmp_path):
    p = {"points": {"a": "seed:6", "b": "seed:7", "c": "seed:8"},
         "plane": {"origin": "a", "x": "b", "y": "c"},
         "xs": [-1.0, -0.8, 0.2, 0.8], "ys": [-0.4, 0.6, 0.0], "scorers": [],
         "detector": NO_DET, "batch_size": 5, "noise_mode": "const"}  # fmt: skip
    out = {k: str(tmp_path / f) for k, f in
           [("table", "c.parquet"), ("montage", "m.png"), ("heatmaps", "h.png")]}  # fmt: skip
    df = stage_planes(dcgan_info, p, tmp_path / "sem", out)
    a, b, c = (seed_z(s, 100) for s in (6, 7, 8))
    assert len(df) == 12 and df["y"].tolist()[:4] == [0.6] * 4  # top row = largest y
    for r in df.itertuples():
        want = a.astype(np.float64) + r.x * b + r.y * c
        np.testing.assert_allclose(r.latent, want, rtol=1e-6, atol=1e-6)
        assert p["xs"][r.col] == r.x and sorted(p["ys"], reverse=True)[r.row] == r.y
    assert (tmp_path / "m.png").stat().st_size > 10_000 and (tmp_path / "h.png").is_file()


def test_interpolate_stage_tables_distances_and_strip(dcgan_info, tmp_path):
    pytest.importorskip("dlib")
    emb = {"name": "dlib", "crop": "full"}
    p = {"points": {"a": "seed:1", "b": "seed:2", "c": "seed:3"}, "keys": ["a", "b", "c"],
         "steps": 3, "method": "lerp", "detector": NO_DET, "embedder": emb,
         "batch_size": 4, "noise_mode": "const"}  # fmt: skip
    names = ["frames", "table", "distances", "meta", "strip", "heatmap", "first_row"]
    files = ["frames", "f.parquet", "d.csv", "d.json", "s.png", "h.png", "r.png"]
    out = {k: str(tmp_path / f) for k, f in zip(names, files, strict=True)}
    df = stage_interpolate(dcgan_info, p, tmp_path / "sem", out)
    assert df["frame"].tolist() == list(range(5))
    assert df["keyframe"].tolist() == [0, 0, 1, 1, 2]
    assert df["t"].tolist() == [0.0, 0.5, 0.0, 0.5, 1.0]
    assert df["key_name"].tolist() == ["a", "", "b", "", "c"]
    assert sorted(p.name for p in (tmp_path / "frames").iterdir()) == [
        f"frame{i:05d}.png" for i in range(5)
    ]
    from ganatlas.faces.embedders import read_distance_csv

    D, meta = read_distance_csv(out["distances"])
    assert meta == {"embedder": "dlib", "distance": "euclidean", "threshold": "0.6"}
    M = D.to_numpy()
    np.testing.assert_allclose(M, M.T, atol=1e-6)
    np.testing.assert_array_equal(np.diag(M), 0.0)
    np.testing.assert_allclose(df["dist_first"], M[0], atol=1e-6)
    assert json.loads((tmp_path / "d.json").read_text())["found"] == [True] * 5
    # frame 2 is keyframe b exactly (lerp endpoints are exact)
    np.testing.assert_allclose(df["latent_norm"][2], np.linalg.norm(seed_z(2, 100)), rtol=1e-6)
    # every distance column recomputed from the stored matrix; latent norms from the lerp
    assert np.isnan(df["dist_prev"][0])
    np.testing.assert_allclose(df["dist_prev"][1:], [M[i, i - 1] for i in range(1, 5)], atol=1e-6)
    a, b, c = (seed_z(s, 100).astype(np.float64) for s in (1, 2, 3))
    lerp = [a, (a + b) / 2, b, (b + c) / 2, c]
    np.testing.assert_allclose(df["latent_norm"], [np.linalg.norm(v) for v in lerp], rtol=1e-5)


@pytest.mark.parametrize("suffix", ["mp4", "gif"])
def test_video_has_n_frames(tmp_path, suffix):
    import imageio.v2 as iio
    from PIL import Image

    frames = tmp_path / "frames"
    frames.mkdir()
    rng = np.random.default_rng(0)
    for i in range(7):
        Image.fromarray(rng.integers(0, 255, (64, 64, 3), np.uint8)).save(frames / f"f{i}.png")
    out = tmp_path / f"v.{suffix}"
    assert stage_video(frames, 4.0, out) == 7
    if suffix == "mp4":
        reader = iio.get_reader(out, format="FFMPEG")
        assert reader.count_frames() == 7
        assert reader.get_data(0).shape == (256, 256, 3)  # enlarged x4
        reader.close()
    else:
        assert len(iio.mimread(out)) == 7


def test_style_mixing_equals_hand_built_ws(tiny_info, tmp_path):
    g = load_network("tiny-random")
    assert g.num_ws == 4
    p = {"rows": [0, 1], "cols": [2, 3, 4], "ranges": {"middle": [1, 3]}, "psi": 1.0,
         "batch_size": 4, "noise_mode": "const"}  # fmt: skip
    cells = stage_mix(tiny_info, p, "middle", tmp_path / "middle.png")
    assert cells.shape[:2] == (2, 3) and (tmp_path / "middle.png").stat().st_size > 1000
    import torch

    def ws_of(seed):
        with torch.no_grad():
            return g.mapping(torch.from_numpy(seed_z(seed, g.z_dim)[None]), None)[0].numpy()

    for i, r in enumerate(p["rows"]):
        for j, c in enumerate(p["cols"]):
            hand = ws_of(r).copy()
            hand[1:3] = ws_of(c)[1:3]
            np.testing.assert_array_equal(cells[i, j], synthesize(g, hand[None])[0])
    assert not np.array_equal(cells[0, 0], cells[0, 1])  # the columns' styles matter


def test_mix_ws_and_layer_ranges():
    rows, cols = np.zeros((2, 5, 3)), np.ones((3, 5, 3))
    m = mix_ws(rows, cols, 2, 4)
    assert m.shape == (2, 3, 5, 3)
    assert (m[:, :, 2:4] == 1).all() and (m[:, :, :2] == 0).all() and (m[:, :, 4:] == 0).all()
    assert layer_range("fine", [8, None], 14, "sg") == (8, 14)
    assert layer_range("middle", [4, 8], 6, "sg") == (4, 6)  # clipped to num_ws
    with pytest.raises(
        ValueError, match=r"paths\.mix\.ranges\.fine: \[8, None\] is empty .*num_ws = 6"
    ):
        layer_range("fine", [8, None], 6, "sg")


def test_mix_on_the_dcgan_names_the_reason(dcgan_info, tmp_path):
    p = {"rows": [0], "cols": [1], "ranges": {"coarse": [0, 4]}, "psi": 1.0, "batch_size": 4,
         "noise_mode": "const"}  # fmt: skip
    with pytest.raises(
        ValueError, match=r"paths\.mix: style mixing needs W\+ .*Z-only \(num_ws = 1"
    ):
        stage_mix(dcgan_info, p, "coarse", tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()


def test_plane_heat_maps_of_an_attribute_scorer(dcgan_info, testdata, tmp_path):
    det = {"backend": "insightface", "det_model": str(testdata / "models" / "scrfd_500m.onnx"),
           "det_size": 320, "pack": None}  # fmt: skip
    smile = {"type": "smile", "model": str(testdata / "models" / "emotion.onnx")}
    p = {"points": {"a": "seed:6", "b": "seed:7", "c": "seed:8"},
         "plane": {"origin": "a", "x": "b", "y": "c"}, "xs": [-1.0, 0.0, 1.0], "ys": [0.0, 1.0],
         "scorers": [smile], "detector": det, "batch_size": 8, "noise_mode": "const"}  # fmt: skip
    out = {k: str(tmp_path / f) for k, f in
           [("table", "c.parquet"), ("montage", "m.png"), ("heatmaps", "h.png")]}  # fmt: skip
    df = stage_planes(dcgan_info, p, tmp_path / "sem", out)
    assert {"detected", "det_score", "score", "smile"} <= set(df.columns)
    found = df["detected"].to_numpy()
    assert found.any()
    assert df.loc[found, "smile"].between(0, 1).all() and df.loc[~found, "smile"].isna().all()
    assert (df.loc[~found, "score"] == 0).all() and df.loc[~found, "det_score"].isna().all()
    from PIL import Image

    w, h = Image.open(out["heatmaps"]).size
    assert w > 1.6 * h  # two heat maps side by side: det_score and smile
