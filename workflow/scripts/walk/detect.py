from ganatlas.smk import job_device, logged
from ganatlas.studies.walk.stages import stage_detect

with logged(snakemake), job_device(snakemake) as device:
    i, p = snakemake.input, snakemake.params
    stage_detect(
        i.info,
        i.walk,
        i.images,
        int(snakemake.wildcards.shard),
        p.shard_size,
        snakemake.output.table,
        p.detector,
        device,
    )
