# ganatlas: the walk study (and, as separate targets, the semantic-direction studies).
# Usage: snakemake --cores 8 --resources gpu=4   |   snakemake --profile profiles/slurm
from math import ceil

from snakemake.utils import min_version, validate

from ganatlas.config import check_config

min_version("8.0")


configfile: "config.yaml"


check_config(config)  # friendly messages naming the key and the allowed values
validate(config, "workflow/schemas/config.schema.yaml")

OUT = config["outdir"]
SEEDS = sorted(set(config["seeds"]))
N_SHARDS = ceil(config["steps"] / config["shard_size"])
# Conda environment of the GPU rules (render, detect) under --sdm conda: envs/cpu.yaml or envs/gpu.yaml.
GPU_ENV = f"../envs/{config['conda_env']}.yaml"


wildcard_constraints:
    seed=r"\d+",
    shard=r"\d+",


include: "rules/network.smk"
include: "rules/walk.smk"
include: "rules/render.smk"
include: "rules/detect.smk"
include: "rules/report.smk"
include: "rules/semantics.smk"


rule all:
    default_target: True
    input:
        f"{OUT}/detections.csv",
        f"{OUT}/report.md",
