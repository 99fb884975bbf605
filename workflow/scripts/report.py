from ganatlas.pipeline.smkio import logged
from ganatlas.pipeline.walkstudy import stage_report

with logged(snakemake):  # noqa: F821 (injected by Snakemake)
    i, p = snakemake.input, snakemake.params  # noqa: F821
    stage_report(i.table, i.info, p.images_root, p.outdir, p.green, p.gallery_size)
