from ganatlas.smk import job_device, logged
from ganatlas.studies.identity.stages import stage_target_figures

with logged(snakemake), job_device(snakemake) as device:
    i, o, p = snakemake.input, snakemake.output, snakemake.params
    figures = dict(zip(("convergence", "gallery", "slice"), o.figures, strict=True))
    stage_target_figures(
        i.info, p.id, i.target, i.target_png, list(i.results), p.records, o.slice, figures,
        snakemake.wildcards.target, device,
    )  # fmt: skip
