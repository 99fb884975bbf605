"""Test helper: TF-era pickles of StyleGAN (2019) and Progressive GAN networks.

Networks are laid out as NVIDIA's ``tflib.Network`` (``G_style`` with components ``mapping``
and ``synthesis``) and ``tfutil.Network`` (``G_paper``) store them, and written with
``tf_pickle_writer`` (no TensorFlow, none of NVIDIA's code).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from conftest import load_module
from torch import nn

writer = load_module("tf_pickle_writer", Path(__file__).parent / "tf_pickle_writer.py")


def _pairs(variables: dict[str, np.ndarray]) -> list[tuple[str, object]]:
    """``(name, value)`` as TF stored them: 0-d variables (``lod``) as numpy scalars, which is
    what TF's ``session.run`` returns for them."""
    return [(k, np.float32(v) if np.ndim(v) == 0 else v) for k, v in variables.items()]


def stylegan1_network(
    name: str, variables: dict[str, dict[str, np.ndarray]], static: dict[str, dict]
) -> writer.FakeTFNetwork:
    """A ``G_style`` network (``variables``/``static``: per ``G_style``, ``G_mapping``,
    ``G_synthesis``)."""
    comps = {
        "mapping": writer.FakeTFNetwork.dnnlib(
            "G_mapping", "G_mapping", static["G_mapping"], _pairs(variables["G_mapping"]),
            version=3,
        ),
        "synthesis": writer.FakeTFNetwork.dnnlib(
            "G_synthesis", "G_synthesis", static["G_synthesis"],
            _pairs(variables["G_synthesis"]), version=3,
        ),
    }  # fmt: skip
    return writer.FakeTFNetwork.dnnlib(
        name, "G_style", static["G_style"], _pairs(variables["G_style"]), comps, version=3
    )


def progan_network(
    name: str, variables: dict[str, np.ndarray], static: dict
) -> writer.FakeTFNetwork:
    """A ``G_paper`` network as Progressive GAN's ``tfutil.Network`` stores it."""
    return writer.FakeTFNetwork.tfutil(name, "G_paper", static, _pairs(variables))


def write_family_pickle(family: str, g: nn.Module, path: Path) -> Path:
    """Write ganatlas generator ``g`` of ``family`` as a TF-era ``(G, None, Gs)`` pickle."""
    if family == "stylegan1":
        from ganatlas.networks import stylegan1

        variables, static = stylegan1.tf_variables(g), stylegan1.tf_static_kwargs(g)
        gs = stylegan1_network("Gs", variables, static)
        g_net = stylegan1_network("G", variables, static)
    elif family == "progan":
        from ganatlas.networks import progan

        variables, static = progan.tf_variables(g), progan.tf_static_kwargs(g)
        gs = progan_network("Gs", variables, static)
        g_net = progan_network("G", variables, static)
    else:
        raise ValueError(f"no TF-era pickle layout for family {family!r}")
    return writer.write_tf_pickle(path, (g_net, None, gs))


TF_FAMILIES = ("stylegan1", "progan")
