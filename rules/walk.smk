# The average W from `w_avg.samples` seeded latents, then one seeded random walk per seed.
from ganatlas.studies.walk.stages import repair_outputs

# Damaged outputs (an image missing from a shard folder, an unreadable detection shard) are
# removed here, so that this run makes them again (in the main process only, not in each job).
if workflow.is_main_process:
    repair_outputs(OUT, SEEDS, config["steps"], config["shard_size"])


rule w_avg:
    input:
        info=f"{OUT}/network.json",
    output:
        npz=f"{OUT}/w_avg.npz",
    log:
        f"{OUT}/logs/w_avg.log",
    conda:
        "../envs/cpu.yaml"
    threads: 2
    params:
        samples=config["w_avg"]["samples"],
        seed=config["w_avg"]["seed"],
        batch_size=config["w_avg"]["batch_size"],
    script:
        "../workflow/scripts/walk/w_avg.py"


rule walk:
    input:
        info=f"{OUT}/network.json",
        w_avg=f"{OUT}/w_avg.npz",
    output:
        npz=f"{OUT}/walks/seed{{seed}}.npz",
    log:
        f"{OUT}/logs/walk/seed{{seed}}.log",
    conda:
        "../envs/cpu.yaml"
    threads: 1
    params:
        steps=config["steps"],
        step_size=config["step_size"],
        step_mode=config["step_mode"],
        clamp=canonical(config["clamp"]),
    script:
        "../workflow/scripts/walk/walk.py"


# One job per (seed, shard): batched synthesis to PNGs named after the step.
rule render:
    input:
        info=f"{OUT}/network.json",
        walk=f"{OUT}/walks/seed{{seed}}.npz",
    output:
        images=directory(f"{OUT}/images/seed{{seed}}/shard{{shard}}"),
    log:
        f"{OUT}/logs/render/seed{{seed}}_shard{{shard}}.log",
    conda:
        GPU_ENV
    threads: 1
    resources:
        gpu=1,
    params:
        shard_size=config["shard_size"],
        batch_size=config["render"]["batch_size"],
        noise_mode=config["render"]["noise_mode"],
    script:
        "../workflow/scripts/walk/render.py"


# One job per (seed, shard): every image scored by the face backend, one Parquet row per image.
rule detect:
    input:
        info=f"{OUT}/network.json",
        walk=f"{OUT}/walks/seed{{seed}}.npz",
        images=f"{OUT}/images/seed{{seed}}/shard{{shard}}",
    output:
        table=f"{OUT}/detections/seed{{seed}}/shard{{shard}}.parquet",
    log:
        f"{OUT}/logs/detect/seed{{seed}}_shard{{shard}}.log",
    conda:
        GPU_ENV
    threads: 1
    resources:
        gpu=1,
    params:
        shard_size=config["shard_size"],
        detector=canonical(config["detector"]),
    script:
        "../workflow/scripts/walk/detect.py"


rule merge:
    input:
        shards=expand(
            f"{OUT}/detections/seed{{seed}}/shard{{shard}}.parquet",
            seed=SEEDS,
            shard=range(N_SHARDS),
        ),
    output:
        table=f"{OUT}/detections.parquet",
        csv=f"{OUT}/detections.csv",
    log:
        f"{OUT}/logs/merge.log",
    conda:
        "../envs/cpu.yaml"
    threads: 1
    script:
        "../workflow/scripts/walk/merge.py"


# Figures, summary.csv (yield per 1,000 per seed), yield_by_distance.csv (per seed and pooled,
# Wilson intervals) and report.md from the merged detections and w_avg's distance statistics.
rule report:
    input:
        table=f"{OUT}/detections.parquet",
        info=f"{OUT}/network.json",
        w_avg=f"{OUT}/w_avg.npz",
        images=expand(
            f"{OUT}/images/seed{{seed}}/shard{{shard}}",
            seed=SEEDS,
            shard=range(N_SHARDS),
        ),
    output:
        report=f"{OUT}/report.md",
        summary=report(
            f"{OUT}/summary.csv",
            caption="../workflow/report/walk_summary.rst",
            category="Walk study",
            subcategory="Tables",
        ),
        by_distance=report(
            f"{OUT}/yield_by_distance.csv",
            caption="../workflow/report/walk_yield_table.rst",
            category="Walk study",
            subcategory="Tables",
        ),
        hist=report(
            expand(f"{OUT}/figures/hist_seed{{seed}}.png", seed=SEEDS),
            caption="../workflow/report/walk_hist.rst",
            category="Walk study",
            subcategory="Confidence histograms",
        ),
        steps=report(
            expand(f"{OUT}/figures/steps_seed{{seed}}.png", seed=SEEDS),
            caption="../workflow/report/walk_steps.rst",
            category="Walk study",
            subcategory="Confidence by step",
        ),
        score_vs_distance=report(
            f"{OUT}/figures/score_vs_distance.png",
            caption="../workflow/report/walk_score_vs_distance.rst",
            category="Walk study",
            subcategory="All seeds",
        ),
        yield_by_distance=report(
            f"{OUT}/figures/yield_by_distance.png",
            caption="../workflow/report/walk_yield.rst",
            category="Walk study",
            subcategory="All seeds",
        ),
        monsters=report(
            f"{OUT}/figures/monsters.png",
            caption="../workflow/report/walk_monsters.rst",
            category="Walk study",
            subcategory="All seeds",
        ),
    log:
        f"{OUT}/logs/report.log",
    conda:
        "../envs/cpu.yaml"
    threads: 1
    params:
        green=config["report"]["green_threshold"],
        gallery_size=config["report"]["gallery_size"],
        gallery_band=config["report"]["gallery_band"],
        rate_window=config["report"]["rate_window"],
    script:
        "../workflow/scripts/walk/report.py"
