from ganatlas.smk import logged
from ganatlas.studies.walk.stages import stage_walk

with logged(snakemake):
    i, p = snakemake.input, snakemake.params
    cfg = {"steps": p.steps, "step_size": p.step_size, "step_mode": p.step_mode, "clamp": p.clamp}
    stage_walk(i.info, i.w_avg, snakemake.output.npz, int(snakemake.wildcards.seed), cfg)
