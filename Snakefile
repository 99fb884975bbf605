# ganatlas: one DAG, one rules/<study>.smk per study (docs/architecture.md).
# `rule all` is the walk study; other studies are targets (e.g. `boundaries`, `edit`, `monsters`;
# `make run` runs `all monsters`).
# Usage: snakemake --cores 8 --resources gpu=4   |   snakemake --profile profiles/slurm
import os
import sys
from math import ceil

from snakemake.utils import min_version

from ganatlas.config import canonical, check_config, load_config_file
from ganatlas.smk import remove_stale_locks

min_version("8.0")


# A syntax error in config.yaml is reported with its file and line (Snakemake's own message has
# neither); for files given with --configfile, `ganatlas check-config FILE...` does the same.
load_config_file("config.yaml")


configfile: "config.yaml"


# Validated once against the one schema shipped in the package (every key, defaults filled);
# errors name the key and the allowed values.
check_config(config)
# A run killed with SIGKILL leaves Snakemake's locks; they are removed when no other Snakemake
# process works in this folder (Linux), so the same command resumes without --unlock.
if workflow.is_main_process:
    remove_stale_locks(".", log=lambda msg: print(msg, file=sys.stderr))
# envs/*.post-deploy.sh (--sdm conda) install the package from here, wherever Snakemake runs.
os.environ.setdefault("GANATLAS_REPO", workflow.basedir)

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
include: "rules/semantics.smk"
include: "rules/identity.smk"
include: "rules/projection.smk"
include: "rules/paths.smk"
include: "rules/monsters.smk"


rule all:
    default_target: True
    input:
        f"{OUT}/detections.csv",
        f"{OUT}/report.md",
