from ganatlas.smk import logged
from ganatlas.studies.projection.stages import stage_summary

with logged(snakemake):
    o = snakemake.output
    stage_summary(list(snakemake.input.dirs), snakemake.params.prj, o[0], o[1], o.figure, o[2])
