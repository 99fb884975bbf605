from ganatlas.smk import job_device, logged
from ganatlas.studies.monsters.stages import stage_radial

with logged(snakemake), job_device(snakemake) as device:
    i, w = snakemake.input, snakemake.wildcards
    w_avg = list(i.w_avg)  # [] for the networks of monsters.networks: computed in the job
    w_avg = w_avg[0] if w_avg else None
    stage_radial(
        i.info, w_avg, snakemake.params.mon, w.net, w.space, snakemake.output.table, device
    )
