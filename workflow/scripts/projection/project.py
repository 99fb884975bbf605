from ganatlas.smk import job_device, logged
from ganatlas.studies.projection.stages import stage_project

with logged(snakemake), job_device(snakemake) as device:
    stage_project(
        snakemake.input.info,
        snakemake.params.prj,
        snakemake.wildcards.item,
        snakemake.params.photo,
        snakemake.output.item,
        device,
        snakemake.threads,
    )
