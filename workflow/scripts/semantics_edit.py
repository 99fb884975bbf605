from ganatlas.pipeline.smkio import job_device, logged, set_threads
from ganatlas.semantics.stages import stage_edit

with logged(snakemake), job_device(snakemake) as device:
    set_threads(snakemake.threads)
    stage_edit(
        snakemake.input.info,
        snakemake.config,
        snakemake.wildcards.space,
        snakemake.params.sem_dir,
        snakemake.output.table,
        list(snakemake.output.grids),
        device,
    )
