from ganatlas.smk import job_device, logged
from ganatlas.studies.identity.stages import stage_search

with logged(snakemake), job_device(snakemake) as device:
    i, o, p = snakemake.input, snakemake.output, snakemake.params
    stage_search(
        i.info, p.id, snakemake.wildcards.method, i.target, p.record, o.result, o.latent, device
    )
