from ganatlas.pipeline.smkio import job_device, logged, set_threads
from ganatlas.pipeline.walkstudy import stage_detect

with logged(snakemake), job_device(snakemake) as device:  # noqa: F821 (injected by Snakemake)
    set_threads(snakemake.threads)  # noqa: F821
    i, p = snakemake.input, snakemake.params  # noqa: F821
    stage_detect(i.info, i.walk, i.images, int(snakemake.wildcards.shard), p.shard_size,  # noqa: F821
                 snakemake.output.table, p.detector, device)  # noqa: F821
