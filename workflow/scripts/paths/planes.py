from pathlib import Path

from ganatlas.smk import job_device, logged
from ganatlas.studies.paths.stages import stage_planes

with logged(snakemake), job_device(snakemake) as device:
    o = snakemake.output
    out = {k: str(o[k]) for k in ("table", "montage", "heatmaps")}
    sem_dir = Path(snakemake.config["outdir"]) / "semantics"
    stage_planes(snakemake.input.info, snakemake.params.p, sem_dir, out, device)
