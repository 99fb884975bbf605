from ganatlas.smk import job_device, logged
from ganatlas.studies.identity.stages import stage_target

with logged(snakemake), job_device(snakemake) as device:
    o = snakemake.output
    stage_target(snakemake.input.info, snakemake.params.id, o.npz, o.png, device)
