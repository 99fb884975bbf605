from pathlib import Path

from ganatlas.pipeline.smkio import logged
from ganatlas.semantics.stages import stage_edit_summary

with logged(snakemake):
    stage_edit_summary(
        list(snakemake.input.tables), snakemake.config, Path(snakemake.output[0]).parent
    )
