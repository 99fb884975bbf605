from pathlib import Path

from ganatlas.smk import logged
from ganatlas.studies.monsters.stages import stage_embedding_map

with logged(snakemake):
    i, o = snakemake.input, snakemake.output
    images_root = Path(i.images[0]).parent.parent  # {outdir}/images/seed{S}/shard{K}
    out = Path(o.table).parent
    stage_embedding_map(i.table, images_root, list(i.radial), snakemake.params.mon, out)
