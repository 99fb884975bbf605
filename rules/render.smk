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
        "../workflow/scripts/render.py"
