# Projection of real photos into the generator: target `project` (see docs/projection.md).
# Settings: the validated `projection:` section resolved once
# (ganatlas.studies.projection.settings); one job per photo and per generated face.
from ganatlas.studies.projection.settings import PROJECT_KEYS, projection_config
from ganatlas.studies.projection.settings import rule_params as prj_params

PRJ = projection_config(config)
PRJ_DIR = f"{OUT}/projection"
PRJ_PHOTOS = PRJ["items"]
PRJ_ITEMS = list(PRJ_PHOTOS) + PRJ["synthetic_items"]
PRJ_SUMMARY = [
    f"{PRJ_DIR}/metrics.csv",
    f"{PRJ_DIR}/latents.csv",
    f"{PRJ_DIR}/report.md",
]


# One job per item: align (photos), project, render, score; the item's folder is written whole.
rule projection_project:
    input:
        info=f"{OUT}/network.json",
        photo=lambda wc: PRJ_PHOTOS.get(wc.item, []),
    output:
        item=directory(f"{PRJ_DIR}/items/{{item}}"),
    log:
        f"{OUT}/logs/projection/{{item}}.log",
    wildcard_constraints:
        item=r"[A-Za-z0-9][A-Za-z0-9_.-]*",
    conda:
        "../envs/cpu.yaml"
    threads: 1
    resources:
        gpu=1,
    params:
        prj=prj_params(PRJ, *PROJECT_KEYS),
        photo=lambda wc: PRJ_PHOTOS.get(wc.item),
    script:
        "../workflow/scripts/projection/project.py"


rule projection_summary:
    input:
        dirs=expand(f"{PRJ_DIR}/items/{{item}}", item=PRJ_ITEMS),
    output:
        PRJ_SUMMARY,
        figure=report(
            f"{PRJ_DIR}/figures/latents_real_vs_synthetic.png",
            caption="../workflow/report/projection_latents.rst",
            category="Projection",
        ),
    log:
        f"{OUT}/logs/projection/summary.log",
    conda:
        "../envs/cpu.yaml"
    threads: 1
    params:
        prj=prj_params(
            PRJ,
            "space",
            "steps",
            "lr",
            "lr_rampup",
            "lr_rampdown",
            "noise_factor",
            "noise_ramp",
            "noise_reg",
            "compare_size",
            "losses",
        ),
    script:
        "../workflow/scripts/projection/summary.py"


rule project:
    input:
        PRJ_SUMMARY,
