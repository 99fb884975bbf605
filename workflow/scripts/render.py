from ganatlas.pipeline.smkio import job_device, logged, set_threads
from ganatlas.pipeline.walkstudy import stage_render

with logged(snakemake), job_device(snakemake) as device:  # noqa: F821 (injected by Snakemake)
    set_threads(snakemake.threads)  # noqa: F821
    i, p = snakemake.input, snakemake.params  # noqa: F821
    stage_render(i.info, i.walk, int(snakemake.wildcards.shard), p.shard_size,  # noqa: F821
                 snakemake.output.images, p.batch_size, p.noise_mode, device)  # noqa: F821
