from pathlib import Path

from ganatlas.pipeline.smkio import logged, set_threads
from ganatlas.semantics.stages import stage_boundaries

with logged(snakemake):
    set_threads(snakemake.threads)
    stage_boundaries(
        list(snakemake.input.shards),
        snakemake.config,
        snakemake.input.info,
        Path(snakemake.output.accuracy).parent,
    )
