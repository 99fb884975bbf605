from ganatlas.smk import logged
from ganatlas.studies.paths.stages import stage_video

with logged(snakemake):
    stage_video(snakemake.input.frames, snakemake.params.fps, snakemake.output.video)
