from ganatlas.smk import logged
from ganatlas.studies.walk.stages import stage_network

with logged(snakemake):
    p = snakemake.params
    stage_network(p.spec, snakemake.output.info, cache_dir=p.cache_dir, which=p.which)
