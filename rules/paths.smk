# Paths through latent space: targets `interpolate`, `planes`, `axes`, `mix` and the report
# {outdir}/paths/report.md (see docs/paths.md). Settings: the validated `paths:` section resolved
# once (ganatlas.studies.paths.settings); each job's params carry exactly what its stage reads,
# so a changed path, plane or range reruns only that job.
from ganatlas.studies.paths.settings import (
    axes_params,
    interpolate_params,
    mix_guard,
    mix_params,
    paths_config,
    plane_params,
    point_inputs,
    report_params,
    video_paths,
)

PATHS = paths_config(config)
P_DIR = f"{OUT}/paths"
P_NAMES = list(PATHS["interpolate"]["paths"])
P_PLANES = list(PATHS["planes"]["planes"])
P_RANGES = list(PATHS["mix"]["ranges"])
P_VIDEOS = video_paths(PATHS)
P_GIFS = P_VIDEOS if PATHS["interpolate"]["gif"] else []
P_PATH_FILES = (
    "frames.parquet",
    "strip.png",
    "distances.csv",
    "distances.json",
    "distances.png",
    "first_row.png",
)
P_INTERPOLATE_OUT = (
    [f"{P_DIR}/interpolate/{n}/{f}" for n in P_NAMES for f in P_PATH_FILES]
    + [f"{P_DIR}/interpolate/{n}/video.mp4" for n in P_VIDEOS]
    + [f"{P_DIR}/interpolate/{n}/video.gif" for n in P_GIFS]
)
P_PLANES_OUT = [
    f"{P_DIR}/planes/{n}/{f}"
    for n in P_PLANES
    for f in ("montage.png", "heatmaps.png", "cells.parquet")
]
P_AXES_OUT = [
    f"{P_DIR}/axes/{f}" for f in ("sheet.png", "axes.parquet", "scariest.png")
]
P_MIX_OUT = [f"{P_DIR}/mix/{n}.png" for n in P_RANGES]
P_SECTION_OUT = {
    "interpolate": P_INTERPOLATE_OUT,
    "planes": P_PLANES_OUT,
    "axes": P_AXES_OUT,
    "mix": P_MIX_OUT,
}


wildcard_constraints:
    pathname=r"[A-Za-z0-9_.-]+",
    plane=r"[A-Za-z0-9_.-]+",
    mixrange=r"[A-Za-z0-9_.-]+",


# One job per path: render the frames, score faces, embed identities, distance matrix + figures.
rule paths_interpolate:
    input:
        info=f"{OUT}/network.json",
        points=lambda wc: point_inputs(
            PATHS, PATHS["interpolate"]["paths"][wc.pathname], SEM_DIR
        ),
    output:
        frames=directory(f"{P_DIR}/interpolate/{{pathname}}/frames"),
        table=f"{P_DIR}/interpolate/{{pathname}}/frames.parquet",
        distances=f"{P_DIR}/interpolate/{{pathname}}/distances.csv",
        meta=f"{P_DIR}/interpolate/{{pathname}}/distances.json",
        strip=report(
            f"{P_DIR}/interpolate/{{pathname}}/strip.png",
            caption="../workflow/report/paths_strip.rst",
            category="Paths",
            subcategory="Interpolation",
        ),
        heatmap=report(
            f"{P_DIR}/interpolate/{{pathname}}/distances.png",
            caption="../workflow/report/paths_distances.rst",
            category="Paths",
            subcategory="Interpolation",
        ),
        first_row=report(
            f"{P_DIR}/interpolate/{{pathname}}/first_row.png",
            caption="../workflow/report/paths_distances.rst",
            category="Paths",
            subcategory="Interpolation",
        ),
    log:
        f"{OUT}/logs/paths/interpolate_{{pathname}}.log",
    conda:
        GPU_ENV
    threads: 1
    resources:
        gpu=1,
    params:
        p=lambda wc: interpolate_params(PATHS, wc.pathname),
    script:
        "../workflow/scripts/paths/interpolate.py"


# MP4 (ffmpeg of the imageio-ffmpeg wheel) and GIF of a path's frames.
rule paths_video:
    input:
        frames=f"{P_DIR}/interpolate/{{pathname}}/frames",
    output:
        video=f"{P_DIR}/interpolate/{{pathname}}/video.{{ext}}",
    log:
        f"{OUT}/logs/paths/video_{{pathname}}_{{ext}}.log",
    wildcard_constraints:
        ext="mp4|gif",
    conda:
        "../envs/cpu.yaml"
    threads: 1
    params:
        fps=PATHS["interpolate"]["fps"],
    script:
        "../workflow/scripts/paths/video.py"


# One job per plane: origin + x * X + y * Y over the grid, scored; montage, heat maps, Parquet.
rule paths_planes:
    input:
        info=f"{OUT}/network.json",
        points=lambda wc: point_inputs(
            PATHS,
            [PATHS["planes"]["planes"][wc.plane][k] for k in ("origin", "x", "y")],
            SEM_DIR,
        ),
    output:
        table=f"{P_DIR}/planes/{{plane}}/cells.parquet",
        montage=report(
            f"{P_DIR}/planes/{{plane}}/montage.png",
            caption="../workflow/report/paths_planes.rst",
            category="Paths",
            subcategory="Planes",
        ),
        heatmaps=report(
            f"{P_DIR}/planes/{{plane}}/heatmaps.png",
            caption="../workflow/report/paths_planes.rst",
            category="Paths",
            subcategory="Planes",
        ),
    log:
        f"{OUT}/logs/paths/planes_{{plane}}.log",
    conda:
        GPU_ENV
    threads: 1
    resources:
        gpu=1,
    params:
        p=lambda wc: plane_params(PATHS, wc.plane),
    script:
        "../workflow/scripts/paths/planes.py"


# Every basis axis scale * e_i, the zero vector and w_avg: contact sheet, scores, scariest.
rule paths_axes:
    input:
        info=f"{OUT}/network.json",
    output:
        table=f"{P_DIR}/axes/axes.parquet",
        sheet=report(
            f"{P_DIR}/axes/sheet.png",
            caption="../workflow/report/paths_axes.rst",
            category="Paths",
            subcategory="Axes",
        ),
        scariest=report(
            f"{P_DIR}/axes/scariest.png",
            caption="../workflow/report/paths_axes.rst",
            category="Paths",
            subcategory="Axes",
        ),
    log:
        f"{OUT}/logs/paths/axes.log",
    conda:
        GPU_ENV
    threads: 1
    resources:
        gpu=1,
    params:
        p=axes_params(PATHS),
    script:
        "../workflow/scripts/paths/axes.py"


# One style-mixing grid per layer range (needs W+: a DCGAN gets a clear error).
rule paths_mix:
    input:
        info=f"{OUT}/network.json",
        guard=lambda wc: mix_guard(config),
    output:
        grid=report(
            f"{P_DIR}/mix/{{mixrange}}.png",
            caption="../workflow/report/paths_mix.rst",
            category="Paths",
            subcategory="Style mixing",
        ),
    log:
        f"{OUT}/logs/paths/mix_{{mixrange}}.log",
    conda:
        GPU_ENV
    threads: 1
    resources:
        gpu=1,
    params:
        p=lambda wc: mix_params(PATHS, wc.mixrange),
    script:
        "../workflow/scripts/paths/mix.py"


rule paths_report:
    input:
        info=f"{OUT}/network.json",
        outputs=[f for s in PATHS["report"]["sections"] for f in P_SECTION_OUT[s]],
    output:
        report=f"{P_DIR}/report.md",
    log:
        f"{OUT}/logs/paths/report.log",
    conda:
        "../envs/cpu.yaml"
    threads: 1
    params:
        p=report_params(PATHS),
    script:
        "../workflow/scripts/paths/report.py"


rule interpolate:
    input:
        P_INTERPOLATE_OUT,


rule planes:
    input:
        P_PLANES_OUT,


rule axes:
    input:
        P_AXES_OUT,


rule mix:
    input:
        P_MIX_OUT,


rule paths:
    input:
        f"{P_DIR}/report.md",
