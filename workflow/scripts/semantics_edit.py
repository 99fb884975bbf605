from pathlib import Path

from ganatlas.pipeline.smkio import job_device, logged, set_threads
from ganatlas.semantics.stages import stage_edit

with logged(snakemake), job_device(snakemake) as device:
    set_threads(snakemake.threads)
    stage_edit(
        snakemake.input.info,
        snakemake.config,
        snakemake.wildcards.space,
        Path(snakemake.output.table).parent.parent,
        snakemake.output.table,
        list(snakemake.output.grids),
        device,
    )
