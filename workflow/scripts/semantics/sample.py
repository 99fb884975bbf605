from ganatlas.smk import job_device, logged
from ganatlas.studies.semantics.stages import stage_sample

with logged(snakemake), job_device(snakemake) as device:
    i, p = snakemake.input, snakemake.params
    stage_sample(i.info, p.sem, int(snakemake.wildcards.shard), snakemake.output.table, device)
