from pathlib import Path

from ganatlas.smk import job_device, logged
from ganatlas.studies.paths.stages import stage_interpolate

with logged(snakemake), job_device(snakemake) as device:
    o = snakemake.output
    out = {
        k: str(o[k])
        for k in ("frames", "table", "distances", "meta", "strip", "heatmap", "first_row")
    }
    sem_dir = Path(snakemake.config["outdir"]) / "semantics"
    stage_interpolate(snakemake.input.info, snakemake.params.p, sem_dir, out, device)
