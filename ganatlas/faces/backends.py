"""Build a face backend from the workflow's ``detector:`` config section (never downloads)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from ganatlas.faces.types import FaceBackend

BACKENDS = ("auto", "insightface", "dlib")

#: Keys of the ``detector:`` section and their defaults.
DEFAULTS: dict[str, Any] = {
    "backend": "auto",
    "pack": "buffalo_l",
    "root": "~/.insightface",
    "det_model": None,
    "rec_model": None,
    "det_size": 640,
    "det_thresh": 0.5,
    "workers": 1,
    "providers": "auto",
    "extra_tasks": [],  # InsightFace pack models run beyond detection/recognition (or "all")
    "dlib_detector": "hog",  # hog | cnn
}


def _is_keyword_or_str_list(value: Any, keyword: str) -> bool:
    """True for ``keyword`` itself or a list/tuple of strings."""
    if value == keyword:
        return True
    return isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value)


def validate_detector_config(cfg: dict) -> dict:
    """``cfg`` completed with DEFAULTS; ValueError naming the key and the allowed values."""
    if not isinstance(cfg, dict):
        raise ValueError(f"detector: expected a mapping of keys {sorted(DEFAULTS)}, got {cfg!r}")
    unknown = sorted(set(cfg) - set(DEFAULTS))
    if unknown:
        raise ValueError(f"detector: unknown key(s) {unknown}; allowed keys: {sorted(DEFAULTS)}")
    out = {**DEFAULTS, **{k: v for k, v in cfg.items() if v is not None or k in ("pack", "root")}}
    if out["backend"] not in BACKENDS:
        raise ValueError(
            f"detector.backend must be one of {', '.join(BACKENDS)}, got {out['backend']!r}"
        )
    size = out["det_size"]
    if isinstance(size, bool) or not isinstance(size, int) or size < 32:
        raise ValueError(
            f"detector.det_size must be an integer >= 32 (square detector input in pixels; "
            f"resolve 'auto' to the network's value first), got {size!r}"
        )
    thresh = out["det_thresh"]
    if isinstance(thresh, bool) or not isinstance(thresh, (int, float)) or not 0 <= thresh <= 1:
        raise ValueError(f"detector.det_thresh must be a number in [0, 1], got {thresh!r}")
    workers = out["workers"]
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"detector.workers must be an integer >= 1, got {workers!r}")
    prov = out["providers"]
    if not _is_keyword_or_str_list(prov, "auto"):
        raise ValueError(
            f"detector.providers must be 'auto' or a list of onnxruntime provider names "
            f"(e.g. [CUDAExecutionProvider, CPUExecutionProvider]), got {prov!r}"
        )
    extra = out["extra_tasks"]
    if not _is_keyword_or_str_list(extra, "all"):
        raise ValueError(
            f"detector.extra_tasks must be 'all' or a list of InsightFace task names "
            f"(e.g. [genderage, landmark_2d_106]), got {extra!r}"
        )
    if out["dlib_detector"] not in ("hog", "cnn"):
        raise ValueError(
            f"detector.dlib_detector must be one of hog, cnn, got {out['dlib_detector']!r}"
        )
    return out


def insightface_models_present(cfg: dict) -> bool:
    """True when InsightFace can run offline: an existing det_model file or a local pack."""
    from ganatlas.faces.insightface_backend import pack_present

    if cfg.get("det_model") is not None:
        path = Path(str(cfg["det_model"])).expanduser()
        if path.is_file():
            return True
        from ganatlas.faces.insightface_backend import pack_dir

        d = pack_dir(cfg.get("pack"), cfg.get("root"))
        return d is not None and (d / path).is_file()
    return pack_present(cfg.get("pack"), cfg.get("root"))


def resolve_backend_name(cfg: dict) -> str:
    """``auto`` -> insightface when its models are present locally (and it imports), else dlib."""
    if cfg["backend"] != "auto":
        return cfg["backend"]
    if insightface_models_present(cfg):
        try:
            import insightface  # noqa: F401
            import onnxruntime  # noqa: F401
        except ImportError:
            pass
        else:
            return "insightface"
    print(
        "detector.backend auto: no InsightFace models found locally "
        f"(pack {cfg.get('pack')!r} under {cfg.get('root')!r}, det_model {cfg.get('det_model')!r}); "
        "using dlib",
        file=sys.stderr,
    )
    return "dlib"


def make_backend(cfg: dict, providers: list[Any] | None = None) -> FaceBackend:
    """A face backend for the ``detector:`` section ``cfg``.

    providers: onnxruntime providers for InsightFace (names or (name, options) pairs, e.g.
    ``("CUDAExecutionProvider", {"device_id": 1})``); None takes ``cfg["providers"]``, where
    'auto' means CPUExecutionProvider only. The backend's ``name`` and ``model_names`` go into
    every detection row.
    """
    cfg = validate_detector_config(cfg)
    name = resolve_backend_name(cfg)
    if name == "dlib":
        from ganatlas.faces.dlib_backend import DlibBackend

        backend: FaceBackend = DlibBackend(
            det_size=cfg["det_size"],
            det_thresh=float(cfg["det_thresh"]),
            detector=cfg["dlib_detector"],
        )
    else:
        from ganatlas.faces.insightface_backend import InsightFaceBackend

        if providers is None:
            providers = (
                ["CPUExecutionProvider"] if cfg["providers"] == "auto" else list(cfg["providers"])
            )
        backend = InsightFaceBackend(
            pack=cfg["pack"],
            root=cfg["root"],
            det_model=cfg["det_model"],
            rec_model=cfg["rec_model"],
            det_size=cfg["det_size"],
            det_thresh=float(cfg["det_thresh"]),
            providers=providers,
            extra_tasks=cfg["extra_tasks"],
        )
    print(
        f"face backend: {backend.name} ({backend.model_names}), det_size {backend.det_size}, "
        f"det_thresh {cfg['det_thresh']}"
        + (f", providers {getattr(backend, 'providers', None)}" if name == "insightface" else ""),
        file=sys.stderr,
    )
    return backend
