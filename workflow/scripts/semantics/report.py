from pathlib import Path

from ganatlas.smk import logged
from ganatlas.studies.semantics.stages import stage_report

with logged(snakemake):
    out = snakemake.output.report
    stage_report(snakemake.params.sem, Path(out).parent, out)
