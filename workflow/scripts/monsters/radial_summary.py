from pathlib import Path

from ganatlas.smk import logged
from ganatlas.studies.monsters.stages import stage_radial_summary

with logged(snakemake):
    out = Path(snakemake.output.curves).parent
    stage_radial_summary(list(snakemake.input.tables), snakemake.params.mon, out)
