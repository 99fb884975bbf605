from pathlib import Path

from ganatlas.smk import logged
from ganatlas.studies.semantics.stages import stage_boundaries

with logged(snakemake):
    i, o = snakemake.input, snakemake.output
    stage_boundaries(list(i.shards), snakemake.params.sem, i.info, Path(o.accuracy).parent)
