from pathlib import Path

from ganatlas.smk import job_device, logged
from ganatlas.studies.semantics.stages import stage_edit

with logged(snakemake), job_device(snakemake) as device:
    o = snakemake.output
    stage_edit(
        snakemake.input.info,
        snakemake.params.sem,
        snakemake.wildcards.space,
        Path(o.table).parent.parent,
        o.table,
        list(o.grids),
        device,
    )
