from ganatlas.smk import job_device, logged
from ganatlas.studies.paths.stages import stage_axes

with logged(snakemake), job_device(snakemake) as device:
    o = snakemake.output
    out = {k: str(o[k]) for k in ("table", "sheet", "scariest")}
    stage_axes(snakemake.input.info, snakemake.params.p, out, device)
