from ganatlas.smk import job_device, logged
from ganatlas.studies.monsters.stages import stage_radial

with logged(snakemake), job_device(snakemake) as device:
    i, w = snakemake.input, snakemake.wildcards
    w_avg = i.w_avg if "w_avg" in i.keys() and i.w_avg else None
    stage_radial(i.info, w_avg, snakemake.params.mon, w.net, w.space, snakemake.output.table, device)
