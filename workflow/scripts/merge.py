from ganatlas.pipeline.smkio import logged
from ganatlas.pipeline.walkstudy import stage_merge

with logged(snakemake):  # noqa: F821 (injected by Snakemake)
    o = snakemake.output  # noqa: F821
    stage_merge(list(snakemake.input.shards), o.table, o.csv)  # noqa: F821
