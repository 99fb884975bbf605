from ganatlas.smk import logged
from ganatlas.studies.walk.stages import stage_w_avg

with logged(snakemake):
    p = snakemake.params
    stage_w_avg(snakemake.input.info, snakemake.output.npz, p.samples, p.seed, p.batch_size)
