from ganatlas.smk import job_device, logged
from ganatlas.studies.identity.stages import stage_iterate

with logged(snakemake), job_device(snakemake) as device:
    o = snakemake.output
    out = {"npz": o.npz, "csv": o.csv, "json": o.json, "gallery": o.figures[0],
           "distances": o.figures[1], "mp4": o.mp4}  # fmt: skip
    stage_iterate(snakemake.input.info, snakemake.params.id, out, device)
