"""FFHQ alignment: the recipe's geometry, and on real photos the eyes land where FFHQ puts them."""

import math

import numpy as np
import pytest
from conftest import find_testdata

from ganatlas.studies.projection.align import (
    NoFaceError,
    align_image,
    canonical_eyes,
    ffhq_quad,
    largest_face,
    quad_matrix,
)

#: an upright face: eyes 20 px apart, mouth 20 px below the eyes, corners 16 px apart
KPS = np.array([[40, 50], [60, 50], [50, 60], [42, 70], [58, 70]], float)


def test_quad_of_an_upright_face():
    # x = eye_to_eye - rot90(eye_to_mouth) = (40, 0), scaled to max(2 * 20, 1.8 * 20) = 40;
    # centre = eye_avg + 0.1 * eye_to_mouth = (50, 52); the crop is 80 px wide
    quad = ffhq_quad(KPS)
    np.testing.assert_allclose(quad, [[10, 12], [10, 92], [90, 92], [90, 12]], atol=1e-9)
    # eyes at 30/80 and 70/80 of the width, 38/80 of the height
    np.testing.assert_allclose(canonical_eyes(KPS, 256), [[96, 121.6], [160, 121.6]], atol=1e-9)


@pytest.mark.parametrize(("angle", "scale", "shift"), [(30, 1.0, (0, 0)), (-75, 2.5, (300, -40))])
def test_alignment_is_invariant_to_rotation_scale_and_shift(angle, scale, shift):
    a = math.radians(angle)
    rot = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
    moved = KPS @ rot.T * scale + np.array(shift)
    np.testing.assert_allclose(canonical_eyes(moved, 256), canonical_eyes(KPS, 256), atol=1e-6)


def test_matrix_maps_quad_corners_to_the_output_square():
    quad = ffhq_quad(KPS)
    m = quad_matrix(quad, 64)
    out = quad @ m[:, :2].T + m[:, 2]
    np.testing.assert_allclose(out, [[0, 0], [0, 64], [64, 64], [64, 0]], atol=1e-9)


def test_align_image_moves_marked_points_to_their_canonical_places():
    img = np.zeros((200, 300, 3), np.uint8)
    kps = KPS * 2 + [60, 10]
    for x, y in kps[:2]:
        img[int(y) - 1 : int(y) + 1, int(x) - 1 : int(x) + 1] = 255  # 2x2 dot centred on (x, y)
    out, al = align_image(img, kps, 128)
    assert out.shape == (128, 128, 3) and out.dtype == np.uint8
    for u, v in al.to_output(kps[:2]):
        ys, xs = np.nonzero(out[:, :, 0] > 60)
        near = (np.abs(xs + 0.5 - u) < 4) & (np.abs(ys + 0.5 - v) < 4)
        assert near.any(), f"no bright pixel near ({u:.1f}, {v:.1f})"
        cx = np.average(xs[near] + 0.5, weights=out[ys[near], xs[near], 0])
        cy = np.average(ys[near] + 0.5, weights=out[ys[near], xs[near], 0])
        assert abs(cx - u) < 0.7 and abs(cy - v) < 0.7
    assert al.as_dict()["size"] == 128 and len(al.as_dict()["matrix"]) == 2


def test_padding_outside_the_photo_is_blurred_towards_the_median():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (120, 120, 3), dtype=np.uint8)
    # a face near the top-left corner: most of the crop lies outside the photo
    out, _ = align_image(img, KPS * 0.5 - 20, 64)  # crop from (-15, -14) to (25, 26)
    far = out[:8, :8].astype(float)
    assert far.std() < 0.25 * img.std()  # smooth, not reflected noise


@pytest.mark.parametrize(
    ("kps", "match"),
    [(np.zeros((4, 2)), "five finite landmarks"), (np.full((5, 2), np.nan), "five finite"),
     (np.zeros((5, 2)), "degenerate")],
)  # fmt: skip
def test_bad_landmarks_are_refused(kps, match):
    with pytest.raises(ValueError, match=match):
        ffhq_quad(kps)


def test_bad_images_and_no_face():
    with pytest.raises(ValueError, match="uint8"):
        align_image(np.zeros((10, 10, 3), np.float32), KPS, 64)
    with pytest.raises(NoFaceError):
        largest_face([])


@pytest.mark.slow  # dlib's three models loaded twice per photo: > 10 s on the busy machine
@pytest.mark.parametrize("name", ["obama", "rose_leslie1"])
def test_eyes_land_where_ffhq_puts_them_on_real_photos(name):
    pytest.importorskip("dlib")
    import cv2

    from ganatlas.faces.dlib_backend import DlibBackend

    path = find_testdata() / "photos" / f"{name}.jpg"
    if not path.is_file():
        pytest.skip(f"test photo {path} not found (set GANATLAS_TESTDATA)")
    img = cv2.imread(str(path))
    face = largest_face(DlibBackend(det_size=512).analyze(img))
    out, al = align_image(img, face.kps, 256)
    expected = canonical_eyes(face.kps, 256)
    np.testing.assert_allclose(al.to_output(face.kps[:2]), expected, atol=1e-6)
    # re-detected on the aligned image, the eyes sit where the recipe put them (FFHQ: a quarter
    # of the width apart)
    again = largest_face(DlibBackend(det_size=256).analyze(out))
    assert np.abs(again.kps[:2] - expected).max() < 3.0, (again.kps[:2], expected)
    assert 0.2 < (expected[1, 0] - expected[0, 0]) / 256 < 0.3


@pytest.mark.slow  # dlib at 640 px and SCRFD: tens of seconds on a busy CPU
def test_scrfd_and_dlib_landmarks_align_a_photo_alike(tmp_path):
    """align.landmarks detector (SCRFD's five points) vs dlib's 68: the aligned eyes agree."""
    pytest.importorskip("dlib")
    pytest.importorskip("insightface")
    from ganatlas.studies.projection.settings import projection_config
    from ganatlas.studies.projection.stages import align_photo

    scrfd = find_testdata() / "models" / "scrfd_500m.onnx"
    photo = find_testdata() / "photos" / "obama.jpg"
    if not (scrfd.is_file() and photo.is_file()):
        pytest.skip(f"SCRFD model or photo not found under {find_testdata()}")
    eyes = {}
    for source in ("dlib", "detector"):
        prj = projection_config({
            "projection": {"align": {"landmarks": source, "max_side": 640}},
            "detector": {"backend": "insightface", "det_model": str(scrfd), "det_size": 640},
        })  # fmt: skip
        out, rec = align_photo(photo, prj, {"det_size": 640}, 256)
        assert out.shape == (256, 256, 3) and rec["aligned"]
        m = np.array(rec["matrix"])
        eyes[source] = np.array(rec["kps"])[:2] @ m[:, :2].T + m[:, 2]
        assert rec["backend"] == ("dlib" if source == "dlib" else "insightface")
    assert np.abs(eyes["dlib"] - eyes["detector"]).max() < 6.0, eyes
