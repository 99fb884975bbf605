# Semantic directions (InterFaceGAN): targets `boundaries` and `edit` (see docs/semantics.md).
# Settings: the validated `semantics:` section resolved once (ganatlas.studies.semantics.settings);
# each rule's params carry exactly the keys its stage reads, so a changed value reruns its users.
from ganatlas.studies.semantics.settings import (
    edit_names,
    n_shards,
    rule_params,
    semantics_config,
)

SEM = semantics_config(config)
SEM_DIR = f"{OUT}/semantics"
SEM_ATTRS = SEM["attributes"]
SEM_SPACES = SEM["spaces"]
SEM_EDIT_SPACES = SEM["edit"]["spaces"]
SEM_BOUNDARIES = [
    f"{SEM_DIR}/boundaries/{s}/{a}.{ext}"
    for s in SEM_SPACES
    for a in SEM_ATTRS
    for ext in ("npy", "json")
]
SEM_CONDITIONAL = [
    f"{SEM_DIR}/conditional/{s}/{p}.npy" for s in SEM_SPACES for p in SEM["conditions"]
]
SEM_EDIT_NAMES = edit_names(SEM)
SEM_EXTERNAL = {b["name"]: b for b in SEM["edit"]["boundary_files"]}
SEM_EDIT_TABLES = [
    f"{SEM_DIR}/linearity.csv",
    f"{SEM_DIR}/linearity_faces.csv",
    f"{SEM_DIR}/disentanglement.csv",
] + [f"{SEM_DIR}/effect_correlation_{s}.csv" for s in SEM_EDIT_SPACES]
SEM_EDIT_FIGURES = [f"{SEM_DIR}/figures/disentanglement.png"] + [
    f"{SEM_DIR}/figures/linearity_{s}.png" for s in SEM_EDIT_SPACES
]
SEM_EDIT_OUT = SEM_EDIT_TABLES + SEM_EDIT_FIGURES


# One job per shard of latents: sample (seeded per shard), render, score; one Parquet each.
rule semantics_sample:
    input:
        info=f"{OUT}/network.json",
    output:
        table=f"{SEM_DIR}/samples/shard{{shard}}.parquet",
    log:
        f"{OUT}/logs/semantics/sample_shard{{shard}}.log",
    conda:
        "../envs/cpu.yaml"
    threads: 1
    resources:
        gpu=1,
    params:
        sem=rule_params(
            SEM,
            "samples",
            "shard_size",
            "seed",
            "batch_size",
            "noise_mode",
            "scorers",
            "attributes",
            "detector",
        ),
    script:
        "../workflow/scripts/semantics/sample.py"


rule semantics_boundaries:
    input:
        info=f"{OUT}/network.json",
        shards=expand(
            f"{SEM_DIR}/samples/shard{{shard}}.parquet", shard=range(n_shards(SEM))
        ),
    output:
        boundaries=SEM_BOUNDARIES,
        conditional=SEM_CONDITIONAL,
        accuracy=report(
            f"{SEM_DIR}/accuracy.csv",
            caption="../workflow/report/semantics_accuracy.rst",
            category="Semantic directions",
            subcategory="Boundaries",
        ),
        conditional_table=f"{SEM_DIR}/conditional.csv",
        score_corr=f"{SEM_DIR}/score_correlation.csv",
        boundary_corr=[f"{SEM_DIR}/boundary_correlation_{s}.csv" for s in SEM_SPACES],
        figures=report(
            [
                f"{SEM_DIR}/figures/boundary_correlation.png",
                f"{SEM_DIR}/figures/score_correlation.png",
            ],
            caption="../workflow/report/semantics_correlation.rst",
            category="Semantic directions",
            subcategory="Boundaries",
        ),
        summary=f"{SEM_DIR}/samples_summary.json",
    log:
        f"{OUT}/logs/semantics/boundaries.log",
    conda:
        "../envs/cpu.yaml"
    threads: 1
    params:
        sem=rule_params(
            SEM,
            "attributes",
            "spaces",
            "select",
            "val_fraction",
            "split_seed",
            "split_repeats",
            "svm",
            "conditions",
            "protocol",
        ),
    script:
        "../workflow/scripts/semantics/boundaries.py"


# One job per edit space (z, w, wp): every face x direction x alpha rendered and rescored
# (the boundaries of edit.attributes, then the conditional directions when edit.conditional).
rule semantics_edit:
    input:
        info=f"{OUT}/network.json",
        boundaries=SEM_BOUNDARIES,
        conditional=SEM_CONDITIONAL,
    output:
        table=f"{SEM_DIR}/edits/{{space}}.parquet",
        grids=report(
            [f"{SEM_DIR}/figures/grid_{{space}}_{n}.png" for n in SEM_EDIT_NAMES],
            caption="../workflow/report/semantics_grid.rst",
            category="Semantic directions",
            subcategory="Edits",
        ),
    log:
        f"{OUT}/logs/semantics/edit_{{space}}.log",
    wildcard_constraints:
        space="z|w|wp",
    conda:
        "../envs/cpu.yaml"
    threads: 1
    resources:
        gpu=1,
    params:
        sem=rule_params(
            SEM,
            "edit",
            "conditions",
            "protocol",
            "scorers",
            "detector",
            "batch_size",
            "noise_mode",
        ),
    script:
        "../workflow/scripts/semantics/edit.py"


# One job per external boundary file (semantics.edit.boundary_files, e.g. InterFaceGAN's),
# checked against the network's latent dimension and edited in its space.
rule semantics_edit_external:
    input:
        info=f"{OUT}/network.json",
        boundary=lambda wc: SEM_EXTERNAL[wc.name]["path"],
    output:
        table=f"{SEM_DIR}/edits/external/{{name}}.parquet",
        grid=report(
            f"{SEM_DIR}/figures/grid_external_{{name}}.png",
            caption="../workflow/report/semantics_grid.rst",
            category="Semantic directions",
            subcategory="Edits",
        ),
    log:
        f"{OUT}/logs/semantics/edit_external_{{name}}.log",
    wildcard_constraints:
        name="[A-Za-z0-9][A-Za-z0-9_.-]*",
    conda:
        "../envs/cpu.yaml"
    threads: 1
    resources:
        gpu=1,
    params:
        sem=rule_params(
            SEM,
            "edit",
            "conditions",
            "protocol",
            "scorers",
            "detector",
            "batch_size",
            "noise_mode",
        ),
    script:
        "../workflow/scripts/semantics/edit_external.py"


rule semantics_edit_summary:
    input:
        tables=expand(f"{SEM_DIR}/edits/{{space}}.parquet", space=SEM_EDIT_SPACES)
        + expand(f"{SEM_DIR}/edits/external/{{name}}.parquet", name=list(SEM_EXTERNAL)),
        summary=f"{SEM_DIR}/samples_summary.json",
    output:
        SEM_EDIT_TABLES,
        figures=report(
            SEM_EDIT_FIGURES,
            caption="../workflow/report/semantics_linearity.rst",
            category="Semantic directions",
            subcategory="Edits",
        ),
    log:
        f"{OUT}/logs/semantics/edit_summary.log",
    conda:
        "../envs/cpu.yaml"
    threads: 1
    params:
        sem=rule_params(SEM, "attributes", "edit"),
    script:
        "../workflow/scripts/semantics/edit_summary.py"


rule semantics_report:
    input:
        f"{SEM_DIR}/accuracy.csv",
        SEM_EDIT_OUT,
    output:
        report=f"{SEM_DIR}/report.md",
    log:
        f"{OUT}/logs/semantics/report.log",
    conda:
        "../envs/cpu.yaml"
    threads: 1
    params:
        sem=rule_params(
            SEM,
            "seed",
            "select",
            "val_fraction",
            "split_seed",
            "split_repeats",
            "svm",
            "edit",
            "conditions",
            "spaces",
            "protocol",
        ),
    script:
        "../workflow/scripts/semantics/report.py"


rule boundaries:
    input:
        rules.semantics_boundaries.output,


rule edit:
    input:
        SEM_EDIT_OUT,
        f"{SEM_DIR}/report.md",
