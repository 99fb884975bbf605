from ganatlas.smk import logged
from ganatlas.studies.walk.stages import stage_merge

with logged(snakemake):
    o = snakemake.output
    stage_merge(list(snakemake.input.shards), o.table, o.csv)
