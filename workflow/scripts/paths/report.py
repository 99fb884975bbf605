from pathlib import Path

from ganatlas.smk import logged
from ganatlas.studies.paths.stages import stage_report

with logged(snakemake):
    out = snakemake.output.report
    stage_report(snakemake.params.p, snakemake.input.info, Path(out).parent, out)
