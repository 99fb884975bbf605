from pathlib import Path

from ganatlas.smk import job_device, logged
from ganatlas.studies.monsters.stages import stage_monster_boundary

with logged(snakemake), job_device(snakemake) as device:
    i, o = snakemake.input, snakemake.output
    out = Path(o.strip).parent
    stage_monster_boundary(
        i.table, list(i.walks), list(i.radial), i.info, snakemake.params.mon, out, device
    )
