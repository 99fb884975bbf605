from ganatlas.pipeline.smkio import job_device, logged, set_threads
from ganatlas.semantics.stages import stage_sample

with logged(snakemake), job_device(snakemake) as device:
    set_threads(snakemake.threads)
    stage_sample(
        snakemake.input.info,
        snakemake.config,
        int(snakemake.wildcards.shard),
        snakemake.output.table,
        device,
    )
