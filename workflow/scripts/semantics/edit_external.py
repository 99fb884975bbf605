from ganatlas.smk import job_device, logged
from ganatlas.studies.semantics.stages import stage_edit_external

with logged(snakemake), job_device(snakemake) as device:
    o = snakemake.output
    stage_edit_external(
        snakemake.input.info,
        snakemake.params.sem,
        snakemake.wildcards.name,
        o.table,
        o.grid,
        device,
    )
