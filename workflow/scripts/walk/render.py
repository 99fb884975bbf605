from ganatlas.smk import job_device, logged
from ganatlas.studies.walk.stages import stage_render

with logged(snakemake), job_device(snakemake) as device:
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
