from ganatlas.smk import logged
from ganatlas.studies.identity.stages import stage_search_summary

with logged(snakemake):
    p, results = snakemake.params, list(snakemake.input.results)
    per_target = {t: results[k * len(p.methods) : (k + 1) * len(p.methods)]
                  for k, t in enumerate(p.targets)}  # fmt: skip
    stage_search_summary(per_target, snakemake.output.table, snakemake.output.md)
