"""Face backends, the detect stage's Parquet rows and the report CSV, on real models and photos."""

from __future__ import annotations

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch

from ganatlas.faces.backends import make_backend
from ganatlas.faces.detect import detect_images, to_report_csv, write_table_atomic
from ganatlas.faces.schema import DETECTION_SCHEMA

cv2 = pytest.importorskip("cv2")


@pytest.fixture(scope="module")
def scrfd(testdata):
    return str(testdata / "models" / "scrfd_500m.onnx")


@pytest.fixture(scope="module")
def astronaut_bgr() -> np.ndarray:
    skimage_data = pytest.importorskip("skimage.data")
    return np.ascontiguousarray(skimage_data.astronaut()[:, :, ::-1])


def tiny_onnx(path, size: int, out_dim: int, bias: list[float] | None = None) -> str:
    """A small ONNX image model [N, 3, size, size] -> [N, out_dim] (InsightFace routes it by shape:
    112 px -> ArcFace recogniser, 96 px with 3 outputs -> gender/age)."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    cells = size // 8
    rng = np.random.default_rng(0)
    weight = rng.standard_normal((3 * cells * cells, out_dim)).astype(np.float32)
    if bias is not None:
        weight[:] = 0.0
    nodes = [
        helper.make_node(
            "AveragePool", ["data"], ["pooled"], "pool", kernel_shape=[8, 8], strides=[8, 8]
        ),
        helper.make_node("Flatten", ["pooled"], ["flat"], "flatten", axis=1),
        helper.make_node("MatMul", ["flat", "w"], ["out"], "fc"),
    ]
    inits = [numpy_helper.from_array(weight, "w")]
    if bias is not None:
        nodes[-1] = helper.make_node("MatMul", ["flat", "w"], ["pre"], "fc")
        nodes.append(helper.make_node("Add", ["pre", "b"], ["out"], "bias"))
        inits.append(numpy_helper.from_array(np.array(bias, np.float32), "b"))
    graph = helper.make_graph(
        nodes,
        "tiny",
        [helper.make_tensor_value_info("data", TensorProto.FLOAT, ["N", 3, size, size])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, ["N", out_dim])],
        initializer=inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return str(path)


@pytest.fixture(scope="module")
def recognizer_onnx(tmp_path_factory) -> str:
    """A small ONNX recogniser with ArcFace's signature: [N, 3, 112, 112] -> [N, 512]."""
    return tiny_onnx(tmp_path_factory.mktemp("rec") / "tiny_arcface.onnx", 112, 512)


@pytest.fixture(scope="module")
def dcgan_faces_bgr() -> np.ndarray:
    """Four 64x64 faces of the embedded DCGAN (seed 0), BGR uint8 [4, 64, 64, 3]."""
    import torch

    from ganatlas.networks import load_network, to_uint8

    g = load_network("digiface-dcgan")
    z = torch.randn(4, g.z_dim, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        img = to_uint8(g.synthesis(g.mapping(z, None), noise_mode="const"))
    return np.ascontiguousarray(img.numpy()[..., ::-1])


def test_astronaut_scrfd_500m_reference(scrfd, astronaut_bgr):
    backend = make_backend({"backend": "insightface", "det_model": scrfd, "det_size": 640})
    faces = backend.analyze(astronaut_bgr)
    assert len(faces) == 1
    assert faces[0].score == pytest.approx(0.800, abs=0.01)
    np.testing.assert_allclose(faces[0].bbox, [180.1, 60.2, 271.6, 179.7], atol=1.0)
    assert faces[0].kps.shape == (5, 2)
    left_eye, right_eye = faces[0].kps[0], faces[0].kps[1]
    assert left_eye[0] < right_eye[0]  # image-left eye first
    assert faces[0].embedding is None  # no recogniser configured
    assert backend.name == "insightface" and backend.model_names == "scrfd_500m.onnx"


def test_t1_six_faces_sorted_best_first(scrfd):
    insightface_data = pytest.importorskip("insightface.data")
    backend = make_backend({"backend": "insightface", "det_model": scrfd, "det_size": 640})
    faces = backend.analyze(insightface_data.get_image("t1"))
    assert len(faces) == 6
    scores = [f.score for f in faces]
    assert scores == sorted(scores, reverse=True) and min(scores) >= 0.5


@pytest.mark.parametrize("det_size", [320, 640])
def test_staged_scrfd_matches_insightface_detect(
    testdata, astronaut_bgr, dcgan_faces_bgr, det_size
):
    """The staged pre/post-processing (ganatlas.faces.scrfd) gives InsightFace's own detections."""
    insightface_data = pytest.importorskip("insightface.data")
    model = str(testdata / "models" / "scrfd_2.5g.onnx")
    backend = make_backend({"backend": "insightface", "det_model": model, "det_size": det_size})
    images = [astronaut_bgr, insightface_data.get_image("t1"), *dcgan_faces_bgr]
    counts = []
    for img in images:
        dets, kps = backend.detect(img)
        ref, ref_kps = backend.detector.detect(img, input_size=(det_size, det_size), det_thresh=0.5)
        assert dets.shape == ref.shape
        np.testing.assert_allclose(dets, ref, rtol=1e-5, atol=1e-3)
        np.testing.assert_allclose(kps, ref_kps, rtol=1e-5, atol=1e-3)
        counts.append(len(dets))
    assert sum(counts) >= 7  # not vacuous: faces were found


def test_pack_directory_with_foreign_onnx(testdata):
    """A directory pack holding emotion.onnx loads; det_model picks a file of it by name."""
    backend = make_backend(
        {"backend": "insightface", "pack": str(testdata / "models"), "det_model": "scrfd_500m.onnx"}
    )
    assert backend.model_names == "scrfd_500m.onnx"
    assert backend.models.keys() == {"detection"}


def test_dcgan_face_found_at_320_not_640(scrfd, dcgan_faces_bgr):
    b320 = make_backend({"backend": "insightface", "det_model": scrfd, "det_size": 320})
    b640 = make_backend({"backend": "insightface", "det_model": scrfd, "det_size": 640})
    found = [b320.analyze(img) for img in dcgan_faces_bgr]
    assert all(len(f) >= 1 for f in found)
    assert np.median([f[0].score for f in found]) > 0.7
    assert all(b640.analyze(img) == [] for img in dcgan_faces_bgr)


def test_recogniser_fills_embedding_column(scrfd, recognizer_onnx, astronaut_bgr, tmp_path):
    import onnxruntime

    from ganatlas.faces.insightface_backend import aligned_crop

    backend = make_backend(
        {
            "backend": "insightface",
            "det_model": scrfd,
            "rec_model": recognizer_onnx,
            "det_size": 640,
        }
    )
    assert backend.model_names == "scrfd_500m.onnx+tiny_arcface.onnx"
    path = tmp_path / "astronaut.png"
    cv2.imwrite(str(path), astronaut_bgr)
    table = detect_images([path], backend, progress=False)
    emb = np.array(table.column("embedding")[0].as_py(), np.float32)
    assert emb.shape == (512,) and np.linalg.norm(emb) == pytest.approx(1.0, abs=1e-5)
    # Reference: the same recogniser on the 5-point aligned 112x112 crop, RGB, (x - 127.5) / 127.5.
    kps = np.array(table.column("kps")[0].as_py(), np.float32).reshape(5, 2)
    crop = aligned_crop(astronaut_bgr, kps)[:, :, ::-1].astype(np.float32)
    blob = ((crop - 127.5) / 127.5).transpose(2, 0, 1)[None]
    sess = onnxruntime.InferenceSession(recognizer_onnx, providers=["CPUExecutionProvider"])
    ref = sess.run(None, {"data": blob})[0][0]
    np.testing.assert_allclose(emb, ref / np.linalg.norm(ref), atol=1e-4)
    csv = to_report_csv(table)
    assert csv.loc[0, "embeddings"].startswith("[") and csv.loc[0, "embeddings"].count(",") == 511


def test_pack_with_recogniser_and_genderage(scrfd, recognizer_onnx, astronaut_bgr, tmp_path):
    """A pack under <root>/models/<name>: detector + recogniser + gender/age (extra task)."""
    pack = tmp_path / "models" / "tinypack"
    pack.mkdir(parents=True)
    (pack / "scrfd_500m.onnx").symlink_to(scrfd)
    (pack / "tiny_arcface.onnx").symlink_to(recognizer_onnx)
    tiny_onnx(pack / "tiny_genderage.onnx", 96, 3, bias=[0.1, 0.9, 0.35])  # male, age 35
    cfg = {"backend": "auto", "pack": "tinypack", "root": str(tmp_path), "det_size": 640}
    plain = make_backend(cfg)
    assert plain.name == "insightface"
    assert plain.model_names == "scrfd_500m.onnx+tiny_arcface.onnx"
    face = plain.analyze(astronaut_bgr)[0]
    assert face.embedding.shape == (512,) and "gender" not in face.extra
    full = make_backend(cfg | {"extra_tasks": "all"})
    assert full.model_names == "scrfd_500m.onnx+tiny_arcface.onnx+tiny_genderage.onnx"
    face = full.analyze(astronaut_bgr)[0]
    assert face.extra["gender"] == 1 and face.extra["age"] == 35
    assert face.extra["embedding_norm"] > 0


def test_parquet_rows_schema_csv_and_unreadable(scrfd, dcgan_faces_bgr, tmp_path):
    import pandas as pd

    paths = []
    for i, img in enumerate(dcgan_faces_bgr[:2]):
        paths.append(tmp_path / f"seed0007_step{i:05d}.png")
        cv2.imwrite(str(paths[-1]), img)
    paths.append(tmp_path / "seed0007_step00002.png")
    paths[-1].write_bytes(b"not a png")
    blank = tmp_path / "seed0007_step00003.png"
    cv2.imwrite(str(blank), np.zeros((64, 64, 3), np.uint8))
    paths.append(blank)
    meta = pd.DataFrame(
        {
            "filename": [p.name for p in paths],
            "seed": 7,
            "step": range(4),
            "distance": [0.0, 1, 2, 3],
        }
    )
    backend = make_backend({"backend": "insightface", "det_model": scrfd, "det_size": 320})
    table = detect_images(paths, backend, meta, workers=2, progress=False)
    out = tmp_path / "shard0.parquet"
    write_table_atomic(table, out)
    assert [p.name for p in tmp_path.iterdir() if ".tmp" in p.name] == []
    read = pq.read_table(out)
    assert read.schema.equals(DETECTION_SCHEMA)
    df = read.to_pandas()
    assert df.filename.tolist() == [p.name for p in paths]
    assert df.step.tolist() == [0, 1, 2, 3] and (df.seed == 7).all()
    assert df.detected.tolist() == [True, True, False, False]
    assert df.score[2] == 0.0 and df.score[3] == 0.0 and (df.score[:2] > 0.5).all()
    assert df.num_faces.tolist()[2:] == [0, 0]
    assert len(df.bbox[0]) == 4 and len(df.kps[0]) == 10 and df.bbox[3] is None
    assert df.embedding.isna().all()  # detector only
    assert "unreadable image" in df.error[2] and str(paths[2]) in df.error[2]
    assert df.error.isna().tolist() == [True, True, False, True]
    assert (df.det_size == 320).all() and (df.backend == "insightface").all()
    assert (df.models == "scrfd_500m.onnx").all()
    csv_path = tmp_path / "detections.csv"
    to_report_csv(read).to_csv(csv_path, index=False)
    assert csv_path.read_text().splitlines()[0] == "Filename,score,embeddings"
    csv = pd.read_csv(csv_path)
    assert csv.score.tolist() == pytest.approx(df.score.tolist())
    assert csv.embeddings.isna().all()


def test_dlib_descriptors_separate_people(testdata):
    backend = make_backend({"backend": "dlib", "det_size": 640})
    photos = testdata / "photos"
    faces = {}
    for name in ("obama", "obama2", "biden", "biden2"):
        found = backend.analyze(cv2.imread(str(photos / f"{name}.jpg")))
        assert len(found) == 1, name
        faces[name] = found[0]
    desc = {k: f.extra["descriptor"] for k, f in faces.items()}
    assert desc["obama"].shape == (128,)
    for a, b in [("obama", "obama2"), ("biden", "biden2")]:
        assert np.linalg.norm(desc[a] - desc[b]) < 0.6
    for a, b in [("obama", "biden"), ("obama2", "biden2")]:
        assert np.linalg.norm(desc[a] - desc[b]) > 0.6
    f = faces["obama"]
    assert 0.5 < f.score < 1 and f.score == pytest.approx(1 / (1 + np.exp(-f.extra["dlib_margin"])))
    assert np.linalg.norm(f.embedding) == pytest.approx(1.0, abs=1e-5)
    x1, y1, x2, y2 = f.bbox
    assert f.kps[0, 0] < f.kps[1, 0] and f.kps[3, 0] < f.kps[4, 0]  # image-left first
    assert ((f.kps[:, 0] > x1) & (f.kps[:, 0] < x2) & (f.kps[:, 1] > y1) & (f.kps[:, 1] < y2)).all()
    assert f.kps[2, 1] < f.kps[3, 1] and f.kps[0, 1] < f.kps[2, 1]  # eyes above nose above mouth


def test_missing_pack_names_path_and_offline_hint(tmp_path):
    with pytest.raises(FileNotFoundError) as err:
        make_backend({"backend": "insightface", "pack": "buffalo_l", "root": str(tmp_path)})
    msg = str(err.value)
    assert str(tmp_path / "models" / "buffalo_l") in msg
    assert "never downloaded" in msg
    expected = tmp_path / "models" / "buffalo_l"
    assert (
        f"unzip buffalo_l.zip (InsightFace's release) into <root>/models/buffalo_l (here: {expected})"
        in msg
    )


def test_missing_det_model_names_key_and_path(tmp_path):
    missing = tmp_path / "nope" / "scrfd.onnx"
    with pytest.raises(FileNotFoundError, match="detector.det_model") as err:
        make_backend({"backend": "insightface", "det_model": str(missing), "root": str(tmp_path)})
    assert str(missing) in str(err.value)


def test_auto_without_insightface_models_takes_mtcnn_else_dlib(tmp_path):
    from ganatlas.faces.mtcnn import weights_present

    backend = make_backend({"backend": "auto", "root": str(tmp_path)})
    assert backend.name == ("mtcnn" if weights_present() else "dlib")


def test_auto_prefers_insightface_when_detector_present(scrfd, tmp_path):
    backend = make_backend({"backend": "auto", "root": str(tmp_path), "det_model": scrfd})
    assert backend.name == "insightface"


@pytest.mark.parametrize(
    ("cfg", "needles"),
    [
        ({"backend": "opencv"}, ["detector.backend", "auto, insightface, mtcnn, dlib", "'opencv'"]),
        ({"det_sise": 320}, ["unknown key", "det_sise", "det_size"]),
        ({"backend": "dlib", "det_size": "auto"}, ["detector.det_size", "integer", "'auto'"]),
        ({"backend": "dlib", "det_thresh": 1.5}, ["detector.det_thresh", "maximum of 1", "1.5"]),
        ({"backend": "dlib", "workers": 0}, ["detector.workers", "minimum of 1"]),
        ({"backend": "dlib", "providers": "cuda"}, ["detector.providers", "'cuda'"]),
    ],
)
def test_bad_config_errors_name_key_and_allowed(cfg, needles):
    with pytest.raises(ValueError) as err:
        make_backend(cfg)
    for needle in needles:
        assert needle in str(err.value)


def test_det_size_must_suit_scrfd_strides(scrfd):
    with pytest.raises(ValueError, match="multiple of 32"):
        make_backend({"backend": "insightface", "det_model": scrfd, "det_size": 300})


def test_non_detector_as_det_model_is_rejected(testdata):
    with pytest.raises(ValueError, match="is not a detection model"):
        make_backend(
            {"backend": "insightface", "det_model": str(testdata / "models" / "emotion.onnx")}
        )


def test_sessions_take_the_job_threads(scrfd):
    import ganatlas.threads
    from ganatlas.threads import set_job_threads

    before = torch.get_num_threads()
    try:
        set_job_threads(1)
        backend = make_backend({"backend": "insightface", "det_model": scrfd, "det_size": 320})
        assert backend.det_session.get_session_options().intra_op_num_threads == 1
        two = make_backend(
            {"backend": "insightface", "det_model": scrfd, "det_size": 320}, threads=2
        )
        assert two.det_session.get_session_options().intra_op_num_threads == 2
    finally:
        ganatlas.threads._JOB_THREADS = None
        torch.set_num_threads(before)


def test_backend_registry_builds_every_registered_backend_by_name():
    from ganatlas.faces.backends import BACKENDS

    assert list(BACKENDS) == ["insightface", "mtcnn", "dlib"]  # auto preference order
    backend = make_backend({"backend": "dlib", "det_size": 320})
    assert backend.name == "dlib" and backend.det_size == 320


def test_scrfd_layout_from_output_count():
    """6/9 outputs: 3 strides, 2 anchors; 10/15: 5 strides, 1 anchor; 9 and 15 carry keypoints."""
    from ganatlas.faces.scrfd import SCRFDLayout

    three, five = (8, 16, 32), (8, 16, 32, 64, 128)
    expected = {
        6: (three, 2, False),
        9: (three, 2, True),
        10: (five, 1, False),
        15: (five, 1, True),
    }
    for n, (strides, anchors, kps) in expected.items():
        layout = SCRFDLayout.from_output_count(n)
        assert (layout.strides, layout.num_anchors, layout.use_kps) == (strides, anchors, kps)
    with pytest.raises(ValueError, match="not an SCRFD graph: 7 outputs"):
        SCRFDLayout.from_output_count(7)


def test_nms_counts_pixels_inclusively():
    """Boxes are inclusive pixel ranges (a box 0..9 is 10 px wide), as InsightFace's NMS: a
    10 x 10 box and one shifted down 4 px overlap 60 / 140 = 0.43 > 0.4 (suppressed); shifted
    5 px, 50 / 150 = 0.33 (kept)."""
    from ganatlas.faces.scrfd import nms

    a = [0, 0, 9, 9, 0.9]
    assert nms(np.array([a, [0, 4, 9, 13, 0.8]], np.float32)).tolist() == [0]
    assert nms(np.array([a, [0, 5, 9, 14, 0.8]], np.float32)).tolist() == [0, 1]
    assert nms(np.array([a, [4, 0, 13, 9, 0.8]], np.float32)).tolist() == [0]
    assert nms(np.array([a, [5, 0, 14, 9, 0.8]], np.float32)).tolist() == [0, 1]
    assert nms(np.array([a, [0, 5, 9, 14, 0.8]], np.float32), iou=0.3).tolist() == [0]


def test_scrfd_blob_is_rgb_and_normalised():
    """to_blob: BGR canvas [S, S, 3] -> [1, 3, S, S] in R, G, B order, (x - 127.5) / 128."""
    from ganatlas.faces.scrfd import SCRFDLayout, to_blob

    canvas = np.zeros((4, 4, 3), np.uint8)
    canvas[..., 0], canvas[..., 1], canvas[..., 2] = 10, 128, 255  # B, G, R
    blob = to_blob(canvas, SCRFDLayout.from_output_count(9))
    assert blob.shape == (1, 3, 4, 4) and blob.dtype == np.float32
    for channel, value in enumerate((255, 128, 10)):  # R, G, B
        assert np.allclose(blob[0, channel], (value - 127.5) / 128.0)
