# One job per (seed, shard): batched synthesis to PNGs named after the step.
rule render:
    input:
        info=f"{OUT}/network.json",
        walk=f"{OUT}/walks/seed{{seed}}.npz",
    output:
        images=directory(f"{OUT}/images/seed{{seed}}/shard{{shard}}"),
    params:
        shard_size=config["shard_size"],
        batch_size=config["render"]["batch_size"],
        noise_mode=config["render"]["noise_mode"],
    log:
        f"{OUT}/logs/render/seed{{seed}}_shard{{shard}}.log",
    threads: 1
    resources:
        gpu=1,
    conda:
        "../envs/cpu.yaml"
    script:
        "../workflow/scripts/render.py"
