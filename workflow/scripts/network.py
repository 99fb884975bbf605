from ganatlas.pipeline.smkio import logged
from ganatlas.pipeline.walkstudy import stage_network

with logged(snakemake):  # noqa: F821 (injected by Snakemake)
    p = snakemake.params  # noqa: F821
    stage_network(p.spec, snakemake.output.info, cache_dir=p.cache_dir, which=p.which)  # noqa: F821
