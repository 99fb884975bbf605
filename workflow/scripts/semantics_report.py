from pathlib import Path

from ganatlas.pipeline.smkio import logged
from ganatlas.semantics.stages import stage_report

with logged(snakemake):
    stage_report(snakemake.config, Path(snakemake.output.report).parent, snakemake.output.report)
