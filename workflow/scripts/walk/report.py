from pathlib import Path

from ganatlas.smk import logged
from ganatlas.studies.walk.stages import stage_report

with logged(snakemake):
    i, o, p = snakemake.input, snakemake.output, snakemake.params
    images_root = Path(i.images[0]).parent.parent  # {outdir}/images/seed{S}/shard{K}
    stage_report(
        i.table,
        i.info,
        images_root,
        Path(o.report).parent,
        p.green,
        p.gallery_size,
        w_avg_path=i.w_avg,
        gallery_band=p.gallery_band,
        rate_window=p.rate_window,
    )
