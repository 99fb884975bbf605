"""Files that would run code when unpickled are refused by every loader that reads a user's file:
the DCGAN checkpoint, FaceNet and MTCNN weights (``torch.load(weights_only=True)``), latent and
boundary arrays (``np.load(allow_pickle=False)``). Each payload would create a folder if it ran;
the folder never appears. The network pickles' own readers are tested in tests/networks/."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch


class Payload:
    """Unpickling this calls ``os.makedirs(marker)``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.makedirs, (str(self.marker),))


@pytest.fixture
def marker(tmp_path: Path) -> Path:
    return tmp_path / "code-ran"


def evil_pt(path: Path, marker: Path, wrap=lambda p: {"weight": p}) -> Path:
    torch.save(wrap(Payload(marker)), path)
    return path


def evil_npy(path: Path, marker: Path) -> Path:
    arr = np.empty(2, dtype=object)
    arr[0], arr[1] = Payload(marker), 1.0
    np.save(path, arr, allow_pickle=True)
    return path


def test_dcgan_checkpoint_with_code_is_refused_naming_the_global(tmp_path, marker):
    from ganatlas.networks.dcgan import load_dcgan

    path = evil_pt(tmp_path / "g.pt", marker)
    with pytest.raises(ValueError, match=r"g\.pt .*refers to the global (os|posix)\.makedirs"):
        load_dcgan(path)
    assert not marker.exists()


def test_facenet_weights_with_code_are_refused(tmp_path, marker):
    from ganatlas.faces import facenet

    path = evil_pt(tmp_path / "facenet.pt", marker)
    with pytest.raises(
        ValueError, match=r"facenet\.pt .*refers to the global (os|posix)\.makedirs"
    ):
        facenet.load_weights(facenet.InceptionResnetV1(), path)
    assert not marker.exists()


def test_mtcnn_weights_with_code_are_refused(tmp_path, marker):
    from ganatlas.faces import mtcnn

    for name in mtcnn.WEIGHT_FILES.values():
        evil_pt(tmp_path / name, marker)
    with pytest.raises(ValueError, match=r"pnet.*refers to the global (os|posix)\.makedirs"):
        mtcnn.load_nets(tmp_path)
    assert not marker.exists()


def test_latent_and_boundary_arrays_with_objects_are_refused(tmp_path, marker):
    from ganatlas.points import PointError, _load_file
    from ganatlas.studies.semantics.edit import face_latents
    from ganatlas.studies.semantics.external import BoundaryFileError, load_external_boundary

    npy = evil_npy(tmp_path / "evil.npy", marker)
    npz = tmp_path / "evil.npz"
    np.load(npy, allow_pickle=True)
    assert marker.exists()  # the payload works: loading it with pickles allowed runs it
    marker.rmdir()
    arr = np.empty(1, dtype=object)
    arr[0] = Payload(marker)
    np.savez(npz, w=arr)
    for path in (npy, npz):
        with pytest.raises((PointError, ValueError), match="allow_pickle=False|object"):
            _load_file(str(path), None, "w", "paths.points.p", None)
    with pytest.raises(BoundaryFileError, match=r"boundary: .*evil\.npy is not a \.npy array"):
        load_external_boundary(npy, "w", 4, 4, 1)
    with pytest.raises(ValueError, match=r"latent file .*evil\.npy: not a numeric array"):
        face_latents(4, [], [npy])
    assert not marker.exists()
