from ganatlas.pipeline.smkio import logged
from ganatlas.pipeline.walkstudy import stage_merge

with logged(snakemake):
    o = snakemake.output
    stage_merge(list(snakemake.input.shards), o.table, o.csv)
