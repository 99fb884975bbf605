from ganatlas.pipeline.smkio import logged, set_threads
from ganatlas.pipeline.walkstudy import stage_w_avg

with logged(snakemake):
    set_threads(snakemake.threads)
    p = snakemake.params
    stage_w_avg(snakemake.input.info, snakemake.output.npz, p.samples, p.seed, p.batch_size)
