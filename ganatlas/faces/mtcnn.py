"""MTCNN face detection (Zhang et al. 2016) in plain torch, with the trained P-, R- and O-Net
weights that the PyPI wheel facenet-pytorch 2.6.0 ships (MIT licence).

Only the three weight files ``facenet_pytorch/data/{pnet,rnet,onet}.pt`` are read from the
installed wheel (located with ``importlib.util.find_spec``; its code is never imported, since it
needs torchvision). Install them with ``pip install --no-deps facenet-pytorch==2.6.0``
(``make venv`` and the conda environments' post-deploy scripts do).

The cascade follows facenet-pytorch's ``detect_face`` (same thresholds, arithmetic and
coordinate conventions; tests/faces/test_mtcnn.py checks the numbers against it), except at the
image border (below):

1. **Image pyramid**: scales ``12 / min_face_size * factor**k`` (factor 0.709) while the shorter
   side stays >= 12 px; each level is the RGB image resized with area interpolation to
   ``(int(h * s + 1), int(w * s + 1))`` and normalised as ``(x - 127.5) / 128``.
2. **P-Net** (fully convolutional, 12 px window, stride 2): cells with face probability >= 0.6
   become boxes ``floor((2 * cell + 1) / s)`` to ``floor((2 * cell + 12) / s)``; NMS (IoU 0.5)
   per level, then NMS (IoU 0.7) over all levels, box regression, squaring.
3. **R-Net** on 24x24 crops: probability > 0.7, NMS (IoU 0.7), regression, squaring.
4. **O-Net** on 48x48 crops: probability > 0.7, five landmarks, regression, NMS (0.7, overlap
   over the smaller box).

Border: R- and O-Net see the square box resized to their input. Where the box crosses the image
border, the part outside is black (``border="zero"``, the default), so the crop keeps the box's
geometry, as in the original MTCNN code (Zhang et al.'s MATLAB, and davidsandberg/facenet's
``align/detect_face.py``, from which facenet-pytorch ported these weights).
facenet-pytorch instead resizes only the part inside the image (``border="stretch"``), which
stretches the face; landmarks are then mapped back as if the whole box had been seen, so they
drift for faces that fill the frame, the usual case for small generators. Both give the same
numbers when no box crosses the border. Boxes are not clipped to the image.

det_size: the image is resized so that its **longer side is det_size** pixels (as the dlib and
SCRFD backends do) before the pyramid; ``min_face_size`` (20 px, facenet-pytorch's default) is
measured on that resized image. So det_size bounds the cost and sets the smallest face found:
``20 * max(H, W) / det_size`` pixels of the original image; the largest face is the whole image
at any det_size. Boxes and landmarks are reported in the original image's pixels.

Score: the O-Net face probability. ``det_thresh`` is applied to it on top of the cascade's own
0.7, so values below 0.7 change nothing.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ganatlas.faces.types import Face
from ganatlas.networks.persistence import safe_torch_load

#: The wheel whose data folder holds the trained weights, and the version they were checked at.
WEIGHTS_PACKAGE = "facenet_pytorch"
WEIGHTS_VERSION = "2.6.0"
INSTALL_HINT = f"pip install --no-deps facenet-pytorch=={WEIGHTS_VERSION}"
WEIGHT_FILES = {"pnet": "pnet.pt", "rnet": "rnet.pt", "onet": "onet.pt"}

#: facenet-pytorch's defaults: P-, R-, O-Net probability thresholds, pyramid factor, min face.
THRESHOLDS = (0.6, 0.7, 0.7)
FACTOR = 0.709
MIN_FACE_SIZE = 20


def weights_dir() -> Path:
    """The ``data`` folder of the installed facenet-pytorch wheel (the package is not imported).

    FileNotFoundError naming the pip command when the wheel or one of its weight files is absent.
    """
    spec = importlib.util.find_spec(WEIGHTS_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "the mtcnn face backend needs the MTCNN weights shipped in the PyPI wheel "
            f"facenet-pytorch {WEIGHTS_VERSION}: install them with `{INSTALL_HINT}` "
            "(`make venv` does this; --no-deps: its code is not used, only its weight files)"
        )
    folder = Path(list(spec.submodule_search_locations)[0]) / "data"
    missing = [f for f in WEIGHT_FILES.values() if not (folder / f).is_file()]
    if missing:
        raise FileNotFoundError(
            f"facenet-pytorch is installed but {', '.join(missing)} missing from {folder}; "
            f"reinstall it with `{INSTALL_HINT} --force-reinstall`"
        )
    return folder


def weights_label(folder: str | Path) -> str:
    """The ``models`` value of a detection row: the wheel and version, and the three files."""
    files = "+".join(WEIGHT_FILES.values())
    try:
        version = importlib.metadata.version("facenet-pytorch")
    except importlib.metadata.PackageNotFoundError:
        return f"mtcnn:{Path(folder)}/{files}"
    return f"facenet-pytorch-{version}:{files}"


def weights_present() -> bool:
    """True when the MTCNN weight files are installed (nothing is downloaded)."""
    try:
        weights_dir()
    except FileNotFoundError:
        return False
    return True


def max_pool(x: torch.Tensor, kernel: int, stride: int) -> torch.Tensor:
    """``F.max_pool2d(x, kernel, stride, ceil_mode=True)`` (no padding) from strided maxima.

    The same numbers (a maximum is exact), about ten times faster than max_pool2d on CPU here:
    the input is padded with -inf to ``(out - 1) * stride + kernel`` rows and columns, out =
    ceil((size - kernel) / stride) + 1, and reduced rows first, then columns.
    """
    h, w = x.shape[2:]
    out_h = -(-(h - kernel) // stride) + 1
    out_w = -(-(w - kernel) // stride) + 1
    pad_h = (out_h - 1) * stride + kernel - h
    pad_w = (out_w - 1) * stride + kernel - w
    if pad_h or pad_w:
        x = F.pad(x, (0, pad_w, 0, pad_h), value=float("-inf"))
    span_h, span_w = (out_h - 1) * stride + 1, (out_w - 1) * stride + 1
    rows = x[:, :, 0:span_h:stride]
    for dy in range(1, kernel):
        rows = torch.maximum(rows, x[:, :, dy : dy + span_h : stride])
    out = rows[..., 0:span_w:stride]
    for dx in range(1, kernel):
        out = torch.maximum(out, rows[..., dx : dx + span_w : stride])
    return out


class PNet(nn.Module):
    """Proposal net, fully convolutional: [N, 3, H, W] -> (box offsets [N, 4, h, w], face
    probability [N, h, w]) with h = ceil((H - 2) / 2) - 4 (one cell per 12 px window, stride 2)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 10, 3)
        self.prelu1 = nn.PReLU(10)
        self.conv2 = nn.Conv2d(10, 16, 3)
        self.prelu2 = nn.PReLU(16)
        self.conv3 = nn.Conv2d(16, 32, 3)
        self.prelu3 = nn.PReLU(32)
        self.conv4_1 = nn.Conv2d(32, 2, 1)  # face / not-face logits
        self.conv4_2 = nn.Conv2d(32, 4, 1)  # box regression

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = max_pool(self.prelu1(self.conv1(x)), 2, 2)
        x = self.prelu3(self.conv3(self.prelu2(self.conv2(x))))
        return self.conv4_2(x), torch.softmax(self.conv4_1(x), dim=1)[:, 1]


def _flatten_whc(x: torch.Tensor) -> torch.Tensor:
    """[N, C, H, W] -> [N, W * H * C] in (width, height, channel) order, the layout the dense
    layers of the converted Caffe weights expect."""
    return x.permute(0, 3, 2, 1).reshape(x.shape[0], -1)


class RNet(nn.Module):
    """Refinement net: [N, 3, 24, 24] -> (box offsets [N, 4], face probability [N])."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 28, 3)
        self.prelu1 = nn.PReLU(28)
        self.conv2 = nn.Conv2d(28, 48, 3)
        self.prelu2 = nn.PReLU(48)
        self.conv3 = nn.Conv2d(48, 64, 2)
        self.prelu3 = nn.PReLU(64)
        self.dense4 = nn.Linear(576, 128)
        self.prelu4 = nn.PReLU(128)
        self.dense5_1 = nn.Linear(128, 2)
        self.dense5_2 = nn.Linear(128, 4)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = max_pool(self.prelu1(self.conv1(x)), 3, 2)
        x = max_pool(self.prelu2(self.conv2(x)), 3, 2)
        x = self.prelu4(self.dense4(_flatten_whc(self.prelu3(self.conv3(x)))))
        return self.dense5_2(x), torch.softmax(self.dense5_1(x), dim=1)[:, 1]


class ONet(nn.Module):
    """Output net: [N, 3, 48, 48] -> (box offsets [N, 4], landmarks [N, 10] as five x then five y,
    relative to the box, face probability [N])."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 32, 3)
        self.prelu1 = nn.PReLU(32)
        self.conv2 = nn.Conv2d(32, 64, 3)
        self.prelu2 = nn.PReLU(64)
        self.conv3 = nn.Conv2d(64, 64, 3)
        self.prelu3 = nn.PReLU(64)
        self.conv4 = nn.Conv2d(64, 128, 2)
        self.prelu4 = nn.PReLU(128)
        self.dense5 = nn.Linear(1152, 256)
        self.prelu5 = nn.PReLU(256)
        self.dense6_1 = nn.Linear(256, 2)
        self.dense6_2 = nn.Linear(256, 4)
        self.dense6_3 = nn.Linear(256, 10)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x = max_pool(self.prelu1(self.conv1(x)), 3, 2)
        x = max_pool(self.prelu2(self.conv2(x)), 3, 2)
        x = max_pool(self.prelu3(self.conv3(x)), 2, 2)
        x = self.prelu5(self.dense5(_flatten_whc(self.prelu4(self.conv4(x)))))
        return self.dense6_2(x), self.dense6_3(x), torch.softmax(self.dense6_1(x), dim=1)[:, 1]


def load_nets(
    folder: str | Path | None = None, device: str | torch.device = "cpu"
) -> tuple[PNet, RNet, ONet]:
    """P-, R- and O-Net with the trained weights of ``folder`` (default: :func:`weights_dir`)."""
    folder = Path(folder) if folder is not None else weights_dir()
    nets = []
    for cls, key in ((PNet, "pnet"), (RNet, "rnet"), (ONet, "onet")):
        net = cls()
        state = safe_torch_load(folder / WEIGHT_FILES[key])
        net.load_state_dict(state, strict=True)
        nets.append(net.to(device).eval().requires_grad_(False))
    return nets[0], nets[1], nets[2]


def nms(boxes: np.ndarray, scores: np.ndarray, threshold: float, mode: str = "union") -> np.ndarray:
    """Greedy non-maximum suppression: indices kept, best score first.

    boxes [K, 4] x1, y1, x2, y2; a box is dropped when its overlap with a kept, better box is
    > threshold. mode "union": intersection over union with areas (x2 - x1) * (y2 - y1) (the
    P- and R-Net stages); "min": intersection over the smaller box with the "+1" pixel
    convention, areas (x2 - x1 + 1) * (y2 - y1 + 1) (the O-Net stage).
    """
    if mode not in ("union", "min"):
        raise ValueError(f"nms mode must be 'union' or 'min', got {mode!r}")
    if len(boxes) == 0:
        return np.zeros(0, dtype=np.int64)
    b = np.asarray(boxes, np.float64)
    one = 1.0 if mode == "min" else 0.0
    x1, y1, x2, y2 = b[:, 0], b[:, 1], b[:, 2], b[:, 3]
    area = (x2 - x1 + one) * (y2 - y1 + one)
    order = np.argsort(-np.asarray(scores, np.float64), kind="stable")
    keep = []
    while order.size:
        i, rest = order[0], order[1:]
        keep.append(i)
        w = np.maximum(0.0, np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]) + one)
        h = np.maximum(0.0, np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]) + one)
        inter = w * h
        if mode == "min":
            overlap = inter / np.minimum(area[i], area[rest])
        else:
            overlap = inter / (area[i] + area[rest] - inter)
        order = rest[overlap <= threshold]
    return np.asarray(keep, dtype=np.int64)


def square(boxes: torch.Tensor) -> torch.Tensor:
    """Boxes [K, >=4] made square (side = the longer side) about their centres (a copy)."""
    out = boxes.clone()
    w = boxes[:, 2] - boxes[:, 0]
    h = boxes[:, 3] - boxes[:, 1]
    side = torch.maximum(w, h)
    out[:, 0] = boxes[:, 0] + w * 0.5 - side * 0.5
    out[:, 1] = boxes[:, 1] + h * 0.5 - side * 0.5
    out[:, 2] = out[:, 0] + side
    out[:, 3] = out[:, 1] + side
    return out


def regress(boxes: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
    """R-/O-Net box regression: corners moved by offsets [K, 4] times the box's width / height
    in the "+1" convention (a copy)."""
    out = boxes.clone()
    w = boxes[:, 2] - boxes[:, 0] + 1
    h = boxes[:, 3] - boxes[:, 1] + 1
    out[:, 0] = boxes[:, 0] + offsets[:, 0] * w
    out[:, 1] = boxes[:, 1] + offsets[:, 1] * h
    out[:, 2] = boxes[:, 2] + offsets[:, 2] * w
    out[:, 3] = boxes[:, 3] + offsets[:, 3] * h
    return out


#: How a crop treats the part of its box outside the image (see :func:`crops`).
BORDERS = ("zero", "stretch")


def crops(
    image: torch.Tensor, boxes: torch.Tensor, size: int, border: str = "zero"
) -> tuple[torch.Tensor, np.ndarray]:
    """Each box of ``image`` [1, 3, H, W] resized to size x size (area interpolation).

    Box corners are truncated to integers; the box covers pixels ``trunc(x1) - 1`` to
    ``trunc(x2)`` (exclusive), as in the original MATLAB code. border "zero" (the original MTCNN):
    the part outside the image is black, so the crop keeps the box's geometry; "stretch"
    (facenet-pytorch): only the part inside the image is resized, so a box crossing the border is
    stretched. Returns (crops [M, 3, size, size], indices of the M boxes that overlap the image).
    """
    if border not in BORDERS:
        raise ValueError(f"border must be one of {BORDERS}, got {border!r}")
    h, w = image.shape[2:]
    b = boxes[:, :4].trunc().to(torch.int64).cpu().numpy()
    bx1, by1, bx2, by2 = b[:, 0] - 1, b[:, 1] - 1, b[:, 2], b[:, 3]
    x1, y1 = np.maximum(bx1, 0), np.maximum(by1, 0)
    x2, y2 = np.minimum(bx2, w), np.minimum(by2, h)
    ok = np.flatnonzero((x2 > x1) & (y2 > y1))
    out = []
    for k in ok:
        part = image[:, :, y1[k] : y2[k], x1[k] : x2[k]]
        if border == "zero" and (x1[k], y1[k], x2[k], y2[k]) != (bx1[k], by1[k], bx2[k], by2[k]):
            part = F.pad(
                part, (x1[k] - bx1[k], bx2[k] - x2[k], y1[k] - by1[k], by2[k] - y2[k]), value=0.0
            )
        out.append(F.interpolate(part, size=(size, size), mode="area"))
    if not out:
        return image.new_zeros((0, 3, size, size)), ok
    return torch.cat(out), ok


def _normalise(x: torch.Tensor) -> torch.Tensor:
    return (x - 127.5) * 0.0078125


def pyramid_scales(h: int, w: int, min_face_size: float, factor: float) -> list[float]:
    """Scales of the pyramid: 12 / min_face_size times factor**k while min(h, w) * scale >= 12."""
    m = 12.0 / min_face_size
    side = min(h, w) * m
    scales, scale = [], m
    while side >= 12:
        scales.append(scale)
        scale *= factor
        side *= factor
    return scales


def _proposals(
    pnet: PNet, image: torch.Tensor, scales: list[float], threshold: float
) -> torch.Tensor:
    """P-Net stage: candidate boxes [K, 9] (x1, y1, x2, y2, probability, 4 offsets)."""
    h, w = image.shape[2:]
    found = []
    for scale in scales:
        level = F.interpolate(image, size=(int(h * scale + 1), int(w * scale + 1)), mode="area")
        offsets, prob = pnet(_normalise(level))
        cells = (prob[0] >= threshold).nonzero()  # [K, 2] row, col
        if len(cells) == 0:
            continue
        xy = cells.flip(1).to(offsets.dtype)  # x, y
        q1 = ((2 * xy + 1) / scale).floor()
        q2 = ((2 * xy + 12) / scale).floor()
        score = prob[0][cells[:, 0], cells[:, 1]]
        reg = offsets[0][:, cells[:, 0], cells[:, 1]].T
        boxes = torch.cat([q1, q2, score[:, None], reg], dim=1)
        keep = nms(boxes[:, :4].cpu().numpy(), score.cpu().numpy(), 0.5)
        found.append(boxes[torch.as_tensor(keep, device=boxes.device)])
    if not found:
        return image.new_zeros((0, 9))
    boxes = torch.cat(found)
    keep = nms(boxes[:, :4].cpu().numpy(), boxes[:, 4].cpu().numpy(), 0.7)
    boxes = boxes[torch.as_tensor(keep, device=boxes.device)]
    w_, h_ = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    moved = torch.stack(
        [
            boxes[:, 0] + boxes[:, 5] * w_,
            boxes[:, 1] + boxes[:, 6] * h_,
            boxes[:, 2] + boxes[:, 7] * w_,
            boxes[:, 3] + boxes[:, 8] * h_,
            boxes[:, 4],
        ],
        dim=1,
    )
    return square(moved)


@torch.no_grad()
def detect_faces(
    img_rgb: np.ndarray,
    nets: tuple[PNet, RNet, ONet],
    min_face_size: float = MIN_FACE_SIZE,
    thresholds: tuple[float, float, float] = THRESHOLDS,
    factor: float = FACTOR,
    border: str = "zero",
) -> tuple[np.ndarray, np.ndarray]:
    """The MTCNN cascade on one RGB uint8 image [H, W, 3] at its own size.

    border: how R- and O-Net crops treat a box crossing the image border (:func:`crops`);
    "stretch" reproduces facenet-pytorch's ``detect_face`` exactly.

    Returns (boxes [F, 5] float32 x1, y1, x2, y2, face probability; landmarks [F, 5, 2] float32:
    left eye, right eye, nose, left and right mouth corner, image-left first), best first.
    """
    pnet, rnet, onet = nets
    device = next(pnet.parameters()).device
    empty = np.zeros((0, 5), np.float32), np.zeros((0, 5, 2), np.float32)
    if img_rgb.ndim != 3 or img_rgb.shape[2] != 3:
        raise ValueError(f"expected an RGB image [H, W, 3], got shape {img_rgb.shape}")
    image = torch.from_numpy(np.ascontiguousarray(img_rgb)).to(device)
    image = image.permute(2, 0, 1)[None].to(torch.float32)
    h, w = image.shape[2:]
    boxes = _proposals(pnet, image, pyramid_scales(h, w, min_face_size, factor), thresholds[0])
    if len(boxes) == 0:
        return empty

    patches, ok = crops(image, boxes, 24, border)
    if len(ok) == 0:
        return empty
    offsets, prob = rnet(_normalise(patches))
    boxes = boxes[torch.as_tensor(ok, device=device)]
    keep = prob > thresholds[1]
    boxes = torch.cat([boxes[keep, :4], prob[keep, None]], dim=1)
    offsets = offsets[keep]
    pick = torch.as_tensor(nms(boxes[:, :4].cpu().numpy(), boxes[:, 4].cpu().numpy(), 0.7))
    boxes = square(regress(boxes[pick.to(device)], offsets[pick.to(device)]))
    if len(boxes) == 0:
        return empty

    patches, ok = crops(image, boxes, 48, border)
    if len(ok) == 0:
        return empty
    offsets, marks, prob = onet(_normalise(patches))
    boxes = boxes[torch.as_tensor(ok, device=device)]
    keep = prob > thresholds[2]
    boxes = torch.cat([boxes[keep, :4], prob[keep, None]], dim=1)
    offsets, marks = offsets[keep], marks[keep]
    bw = (boxes[:, 2] - boxes[:, 0] + 1)[:, None]
    bh = (boxes[:, 3] - boxes[:, 1] + 1)[:, None]
    points = torch.stack(
        [bw * marks[:, :5] + boxes[:, 0:1] - 1, bh * marks[:, 5:] + boxes[:, 1:2] - 1], dim=2
    )
    boxes = regress(boxes, offsets)
    pick = nms(boxes[:, :4].cpu().numpy(), boxes[:, 4].cpu().numpy(), 0.7, mode="min")
    pick_t = torch.as_tensor(pick, device=device)
    return (
        boxes[pick_t].cpu().numpy().astype(np.float32),
        points[pick_t].cpu().numpy().astype(np.float32),
    )


def torch_device(providers: list | None) -> str:
    """The torch device matching onnxruntime ``providers``: 'cuda:K' when the first provider is
    CUDAExecutionProvider (``device_id`` K, default 0) and torch sees a GPU, else 'cpu'."""
    if not providers:
        return "cpu"
    first = providers[0]
    name, options = (first[0], first[1]) if isinstance(first, (tuple, list)) else (first, {})
    if name != "CUDAExecutionProvider" or not torch.cuda.is_available():
        return "cpu"
    return f"cuda:{int((options or {}).get('device_id', 0))}"


class MTCNNBackend:
    """MTCNN detection + five landmarks of one BGR image (no recogniser: embedding None).

    analyze(img_bgr [H, W, 3] uint8) -> list[Face], best first: bbox [4], kps [5, 2] (left eye,
    right eye, nose, left and right mouth corner as seen in the image), score = the O-Net face
    probability. See the module docstring for det_size. The networks are shared by threads
    (inference only, no state).
    """

    name = "mtcnn"

    def __init__(
        self,
        det_size: int = 640,
        det_thresh: float = 0.5,
        min_face_size: float = MIN_FACE_SIZE,
        device: str | torch.device = "cpu",
        weights: str | Path | None = None,
        border: str = "zero",
    ) -> None:
        if isinstance(det_size, bool) or not isinstance(det_size, int) or det_size < 32:
            raise ValueError(f"detector.det_size must be an integer >= 32, got {det_size!r}")
        if not 0.0 <= float(det_thresh) <= 1.0:
            raise ValueError(f"detector.det_thresh must be in [0, 1], got {det_thresh!r}")
        if not 12 <= float(min_face_size) <= det_size:
            raise ValueError(f"min_face_size must be in [12, det_size], got {min_face_size!r}")
        if border not in BORDERS:
            raise ValueError(f"border must be one of {BORDERS}, got {border!r}")
        self.border = border
        self.det_size = int(det_size)
        self.det_thresh = float(det_thresh)
        self.min_face_size = float(min_face_size)
        self.device = str(device)
        folder = Path(weights) if weights is not None else weights_dir()
        self.nets = load_nets(folder, device)
        self.model_names = weights_label(folder)

    def resize(self, img_bgr: np.ndarray) -> tuple[np.ndarray, float, float]:
        """The RGB image with its longer side det_size: (rgb, x scale, y scale)."""
        import cv2

        h, w = img_bgr.shape[:2]
        scale = self.det_size / max(h, w)
        rgb = np.ascontiguousarray(img_bgr[:, :, ::-1])
        if scale == 1.0:
            return rgb, 1.0, 1.0
        new_w, new_h = max(1, round(w * scale)), max(1, round(h * scale))
        interp = cv2.INTER_LINEAR if scale > 1 else cv2.INTER_AREA
        return cv2.resize(rgb, (new_w, new_h), interpolation=interp), new_w / w, new_h / h

    def detect(self, img_bgr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(boxes [F, 5] x1, y1, x2, y2, probability; landmarks [F, 5, 2]) in image pixels."""
        rgb, sx, sy = self.resize(img_bgr)
        boxes, points = detect_faces(rgb, self.nets, self.min_face_size, border=self.border)
        boxes[:, [0, 2]] /= sx
        boxes[:, [1, 3]] /= sy
        points[:, :, 0] /= sx
        points[:, :, 1] /= sy
        return boxes, points

    def analyze(self, img_bgr: np.ndarray) -> list[Face]:
        """Faces of ``img_bgr`` [H, W, 3] uint8 BGR with probability >= det_thresh, best first."""
        boxes, points = self.detect(img_bgr)
        faces = [
            Face(bbox=boxes[i, :4].copy(), score=float(boxes[i, 4]), kps=points[i].copy())
            for i in range(len(boxes))
            if boxes[i, 4] >= self.det_thresh
        ]
        faces.sort(key=lambda f: -f.score)
        return faces
