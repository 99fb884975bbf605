from ganatlas.pipeline.smkio import job_device, logged, set_threads
from ganatlas.pipeline.walkstudy import stage_detect

with logged(snakemake), job_device(snakemake) as device:
    set_threads(snakemake.threads)
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
