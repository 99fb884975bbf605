from pathlib import Path

from ganatlas.smk import logged
from ganatlas.studies.semantics.stages import stage_edit_summary

with logged(snakemake):
    out_dir = Path(snakemake.output[0]).parent
    stage_edit_summary(list(snakemake.input.tables), snakemake.params.sem, out_dir)
