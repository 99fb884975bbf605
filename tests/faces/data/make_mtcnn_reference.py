"""Recipe for mtcnn_reference.npz: facenet-pytorch 2.6.0's own MTCNN on the test images.

The numbers in mtcnn_reference.npz were produced by the wheel's code (``facenet_pytorch.MTCNN``,
``detect_face``), not by ganatlas.faces.mtcnn, which tests/faces/test_mtcnn.py compares with them
(with ``border="stretch"``, facenet-pytorch's crops at the image border; on the photos no box
crosses the border, so the default ``border="zero"`` gives the same numbers there).

facenet-pytorch imports torchvision, which has no build for the project's torch 2.13 CPU wheel.
The reference was therefore run with a throw-away stand-in package ``torchvision`` on PYTHONPATH
(kept outside the repository) that provides only what MTCNN.detect touches:

- ``torchvision.ops.boxes.batched_nms(boxes, scores, idxs, iou_threshold)``: torchvision's
  semantics - per index (boxes offset by index * (max coordinate + 1)), greedy by descending
  score, a box dropped when its IoU with a kept box is > iou_threshold, areas
  (x2 - x1) * (y2 - y1); returns the kept indices, best first;
- ``torchvision.transforms.functional.to_tensor`` (imported, unused by detect).

Cases: every photo of ``<testdata>/photos`` resized so that its longer side is 640 px (cv2,
INTER_AREA for shrinking, INTER_LINEAR for enlarging, to (round(w * s), round(h * s))), as RGB;
and the first four 64x64 faces of the embedded DCGAN (z = torch.randn(4, 100) from
torch.Generator().manual_seed(0)), at 64 px and enlarged to 160 px. MTCNN(keep_all=True,
select_largest=False) with its defaults (min face 20 px, thresholds 0.6/0.7/0.7, factor 0.709).

Run (torch 2.13.0 CPU, facenet-pytorch 2.6.0 installed with --no-deps, numpy 2.4, cv2 5.1):

    PYTHONPATH=<folder holding the torchvision stand-in>:. python \
        tests/faces/data/make_mtcnn_reference.py tests/faces/data/mtcnn_reference.npz

Keys per case ``<name>@<det_size>``: ``.shape`` (canvas H, W), ``.boxes`` [F, 4] x1, y1, x2, y2,
``.probs`` [F], ``.points`` [F, 5, 2] - all in canvas pixels, in MTCNN.detect's order.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import cv2
import numpy as np
import torch

REPO = Path(__file__).resolve().parents[3]
TESTDATA = Path(os.environ.get("GANATLAS_TESTDATA", REPO.parent / "shared" / "testdata"))


def canvas(rgb: np.ndarray, size: int) -> np.ndarray:
    """``rgb`` with its longer side ``size`` (the mtcnn backend's det_size convention)."""
    h, w = rgb.shape[:2]
    s = size / max(h, w)
    if s == 1.0:
        return np.ascontiguousarray(rgb)
    interp = cv2.INTER_LINEAR if s > 1 else cv2.INTER_AREA
    return cv2.resize(rgb, (max(1, round(w * s)), max(1, round(h * s))), interpolation=interp)


def dcgan_faces() -> np.ndarray:
    """The first four faces of the embedded DCGAN, RGB uint8 [4, 64, 64, 3]."""
    sys.path.insert(0, str(REPO))
    from ganatlas.networks import load_network, to_uint8

    g = load_network("digiface-dcgan")
    z = torch.randn(4, g.z_dim, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        return to_uint8(g.synthesis(g.mapping(z, None))).numpy()


def cases() -> dict[str, np.ndarray]:
    out = {}
    for path in sorted((TESTDATA / "photos").glob("*.jpg")):
        rgb = cv2.imread(str(path), cv2.IMREAD_COLOR)[:, :, ::-1]
        out[f"{path.stem}@640"] = canvas(rgb, 640)
    for i, face in enumerate(dcgan_faces()):
        for size in (64, 160):
            out[f"dcgan{i}@{size}"] = canvas(face, size)
    return out


def main(out_path: str) -> None:
    from facenet_pytorch import MTCNN  # the wheel's code: needs the torchvision stand-in

    torch.set_num_threads(1)
    mtcnn = MTCNN(keep_all=True, select_largest=False)
    arrays = {}
    for name, img in cases().items():
        boxes, probs, points = mtcnn.detect(np.ascontiguousarray(img), landmarks=True)
        if boxes is None:
            boxes, probs, points = np.zeros((0, 4)), np.zeros(0), np.zeros((0, 5, 2))
        arrays[f"{name}.shape"] = np.array(img.shape[:2], np.int64)
        arrays[f"{name}.boxes"] = np.asarray(boxes, np.float32).reshape(-1, 4)
        arrays[f"{name}.probs"] = np.asarray(probs, np.float32).reshape(-1)
        arrays[f"{name}.points"] = np.asarray(points, np.float32).reshape(-1, 5, 2)
        print(name, img.shape, np.round(arrays[f"{name}.probs"], 4).tolist())
    np.savez_compressed(out_path, **arrays)


if __name__ == "__main__":
    main(sys.argv[1])
