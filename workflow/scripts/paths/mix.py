from ganatlas.smk import job_device, logged
from ganatlas.studies.paths.stages import stage_mix

with logged(snakemake), job_device(snakemake) as device:
    p = snakemake.params.p
    stage_mix(snakemake.input.info, p, snakemake.wildcards.mixrange, snakemake.output.grid, device)
