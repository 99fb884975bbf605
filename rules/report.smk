# Figures, summary.csv (yield per 1,000 per seed) and report.md from the merged detections.
rule report:
    input:
        table=f"{OUT}/detections.parquet",
        info=f"{OUT}/network.json",
        images=expand(
            f"{OUT}/images/seed{{seed}}/shard{{shard}}",
            seed=SEEDS,
            shard=range(N_SHARDS),
        ),
    output:
        report=f"{OUT}/report.md",
        summary=f"{OUT}/summary.csv",
        by_distance=f"{OUT}/yield_by_distance.csv",
        figures=expand(
            f"{OUT}/figures/{{kind}}_seed{{seed}}.png",
            kind=["hist", "steps"],
            seed=SEEDS,
        )
        + [
            f"{OUT}/figures/score_vs_distance.png",
            f"{OUT}/figures/yield_by_distance.png",
            f"{OUT}/figures/monsters.png",
        ],
    log:
        f"{OUT}/logs/report.log",
    conda:
        "../envs/cpu.yaml"
    params:
        green=config["report"]["green_threshold"],
        gallery_size=config["report"]["gallery_size"],
    script:
        "../workflow/scripts/report.py"
