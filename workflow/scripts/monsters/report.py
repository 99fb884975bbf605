from pathlib import Path

from ganatlas.smk import logged
from ganatlas.studies.monsters.report import stage_report

with logged(snakemake):
    o = snakemake.output
    stage_report(Path(o.report).parent, list(snakemake.input.radial), o.report)
