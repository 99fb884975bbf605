from ganatlas.pipeline.smkio import logged
from ganatlas.semantics.stages import stage_report

with logged(snakemake):
    stage_report(snakemake.config, snakemake.params.sem_dir, snakemake.output.report)
