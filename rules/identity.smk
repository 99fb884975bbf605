# Identity search and face -> embedding -> face iteration: targets `search` and `iterate`
# (see docs/identity.md). Settings: the validated `identity:` section resolved once
# (ganatlas.studies.identity.settings); each rule's params carry exactly the keys its stage reads.
from ganatlas.studies.identity.settings import identity_config
from ganatlas.studies.identity.settings import stage_params

ID = identity_config(config)
ID_DIR = f"{OUT}/identity"
ID_TARGETS = sorted(ID["targets"])
ID_METHODS = ID["search"]["methods"]
# What the search stage reads of `identity.search` (not the slice or the gallery).
ID_SEARCH = {
    k: ID["search"][k] for k in ("budget", "seed", "dual_annealing", "cma", "gradient")
}
ID_FIGURE_NAMES = ("convergence", "gallery", "slice")


wildcard_constraints:
    target=r"[A-Za-z0-9_\-]+",
    method="|".join(ID_METHODS) or "none",


# The target's embedding: a photo (detected, largest face) or a generated face (seed:N).
rule identity_target:
    input:
        info=f"{OUT}/network.json",
    output:
        npz=f"{ID_DIR}/targets/{{target}}.npz",
        png=f"{ID_DIR}/targets/{{target}}.png",
    log:
        f"{OUT}/logs/identity/target_{{target}}.log",
    conda:
        GPU_ENV
    threads: 1
    resources:
        gpu=1,
    params:
        id=lambda wc: stage_params(ID, "identity_target", wc.target),
    script:
        "../workflow/scripts/identity/target.py"


# One job per (target, method); every evaluation goes to {method}.record.jsonl (not an output:
# it survives a killed job, and the rerun continues from it).
rule identity_search:
    input:
        info=f"{OUT}/network.json",
        target=f"{ID_DIR}/targets/{{target}}.npz",
    output:
        result=f"{ID_DIR}/search/{{target}}/{{method}}.json",
        latent=f"{ID_DIR}/search/{{target}}/{{method}}.npz",
    log:
        f"{OUT}/logs/identity/search_{{target}}_{{method}}.log",
    conda:
        GPU_ENV
    threads: 1
    resources:
        gpu=1,
    params:
        id=stage_params(ID, "identity_search"),
        record=lambda wc: f"{ID_DIR}/search/{wc.target}/{wc.method}.record.jsonl",
    script:
        "../workflow/scripts/identity/search.py"


# Convergence curves, best-so-far gallery and the hill-climbing slice of one target.
rule identity_target_figures:
    input:
        info=f"{OUT}/network.json",
        target=f"{ID_DIR}/targets/{{target}}.npz",
        target_png=f"{ID_DIR}/targets/{{target}}.png",
        results=expand(
            f"{ID_DIR}/search/{{{{target}}}}/{{method}}.json", method=ID_METHODS
        ),
    output:
        slice=f"{ID_DIR}/search/{{target}}/slice.npz",
        figures=report(
            [f"{ID_DIR}/figures/{f}_{{target}}.png" for f in ID_FIGURE_NAMES],
            caption="../workflow/report/identity_search.rst",
            category="Identity",
            subcategory="Search",
        ),
    log:
        f"{OUT}/logs/identity/figures_{{target}}.log",
    conda:
        GPU_ENV
    threads: 1
    resources:
        gpu=1,
    params:
        id=stage_params(ID, "identity_target_figures"),
        records=lambda wc: [
            f"{ID_DIR}/search/{wc.target}/{m}.record.jsonl" for m in ID_METHODS
        ],
    script:
        "../workflow/scripts/identity/target_figures.py"


rule identity_search_summary:
    input:
        results=expand(
            f"{ID_DIR}/search/{{target}}/{{method}}.json",
            target=ID_TARGETS,
            method=ID_METHODS,
        ),
        figures=expand(
            f"{ID_DIR}/figures/{{f}}_{{target}}.png",
            f=ID_FIGURE_NAMES,
            target=ID_TARGETS,
        ),
    output:
        table=report(
            f"{ID_DIR}/search.csv",
            caption="../workflow/report/identity_table.rst",
            category="Identity",
            subcategory="Search",
        ),
        md=f"{ID_DIR}/search.md",
    log:
        f"{OUT}/logs/identity/search_summary.log",
    conda:
        "../envs/cpu.yaml"
    threads: 1
    params:
        targets=ID_TARGETS,
        methods=ID_METHODS,
    script:
        "../workflow/scripts/identity/search_summary.py"


rule identity_iterate:
    input:
        info=f"{OUT}/network.json",
    output:
        npz=f"{ID_DIR}/iterate/keyfaces.npz",
        csv=f"{ID_DIR}/iterate/keyfaces.csv",
        json=f"{ID_DIR}/iterate/recurrence.json",
        figures=report(
            [f"{ID_DIR}/iterate/keyfaces.png", f"{ID_DIR}/iterate/distances.png"],
            caption="../workflow/report/identity_iterate.rst",
            category="Identity",
            subcategory="Iteration",
        ),
        mp4=f"{ID_DIR}/iterate/iterate.mp4",
    log:
        f"{OUT}/logs/identity/iterate.log",
    conda:
        GPU_ENV
    threads: 1
    resources:
        gpu=1,
    params:
        id=stage_params(ID, "identity_iterate"),
    script:
        "../workflow/scripts/identity/iterate.py"


rule search:
    input:
        rules.identity_search_summary.output,


rule iterate:
    input:
        rules.identity_iterate.output,
