from ganatlas.pipeline.smkio import logged, set_threads
from ganatlas.pipeline.walkstudy import stage_w_avg

with logged(snakemake):  # noqa: F821 (injected by Snakemake)
    set_threads(snakemake.threads)  # noqa: F821
    p = snakemake.params  # noqa: F821
    stage_w_avg(snakemake.input.info, snakemake.output.npz, p.samples, p.seed, p.batch_size)  # noqa: F821
