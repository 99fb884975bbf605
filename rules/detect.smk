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
        detector=config["detector"],
    script:
        "../workflow/scripts/detect.py"


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
    script:
        "../workflow/scripts/merge.py"
