from ganatlas.pipeline.smkio import job_device, logged, set_threads
from ganatlas.pipeline.walkstudy import stage_render

with logged(snakemake), job_device(snakemake) as device:
    set_threads(snakemake.threads)
    i, p = snakemake.input, snakemake.params
    stage_render(
        i.info,
        i.walk,
        int(snakemake.wildcards.shard),
        p.shard_size,
        snakemake.output.images,
        p.batch_size,
        p.noise_mode,
        device,
    )
