# The average W from `w_avg.samples` seeded latents, then one seeded random walk per seed.
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
        "../workflow/scripts/w_avg.py"


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
    params:
        steps=config["steps"],
        step_size=config["step_size"],
        step_mode=config["step_mode"],
        clamp=config["clamp"],
    script:
        "../workflow/scripts/walk.py"
