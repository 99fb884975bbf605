# Where the monsters live: targets `radial`, `monster_boundary`, `embedding_map` and `monsters`
# (all three and monsters/report.md); see docs/monsters.md. Settings: the validated `monsters:`
# section resolved once (ganatlas.studies.monsters.settings); each rule's params carry exactly
# the keys its stage reads.
from ganatlas.networks.resolve import local_network_file
from ganatlas.studies.monsters.settings import monsters_config
from ganatlas.studies.monsters.settings import rule_params as mon_params

MON = monsters_config(config)
MON_DIR = f"{OUT}/monsters"
MON_NETS = list(MON["nets"])
MON_RADIAL = expand(
    f"{MON_DIR}/radial/{{net}}_{{space}}.parquet", net=MON_NETS, space=MON["spaces"]
)
MON_RADIAL_NET0 = [f"{MON_DIR}/radial/net0_{s}.parquet" for s in MON["spaces"]]
MON_SUMMARY = [
    f"{MON_DIR}/radial_curves.csv",
    f"{MON_DIR}/monster_radii.csv",
    f"{MON_DIR}/figures/radial_yield.png",
    f"{MON_DIR}/figures/radial_score.png",
]
MON_BOUNDARY = [
    f"{MON_DIR}/boundary/normal.npy",
    f"{MON_DIR}/boundary/boundary.json",
    f"{MON_DIR}/boundary_strip.csv",
    f"{MON_DIR}/figures/boundary_strip.png",
]
MON_MAP = [
    f"{MON_DIR}/embeddings.parquet",
    f"{MON_DIR}/embedding_map.json",
    f"{MON_DIR}/drift.csv",
    f"{MON_DIR}/identities.csv",
    f"{MON_DIR}/figures/embedding_map.png",
    f"{MON_DIR}/figures/identity_drift.png",
]


# The networks of monsters.networks (net1, net2, ...), resolved like `network` (may download).
rule monsters_network:
    input:
        lambda wc: local_network_file(MON["nets"][wc.net]),
    output:
        info=f"{MON_DIR}/networks/{{net}}.json",
    log:
        f"{OUT}/logs/monsters/network_{{net}}.log",
    wildcard_constraints:
        net=r"net[1-9]\d*",
    localrule: True
    conda:
        "../envs/cpu.yaml"
    threads: 1
    params:
        spec=lambda wc: MON["nets"][wc.net],
        which=config["network_which"],
        cache_dir=config["cache_dir"],
    script:
        "../workflow/scripts/network.py"


# One job per (network, space): K directions x R radii rendered, detected, scored, embedded.
rule monsters_radial:
    input:
        # net0 is the top-level network (its w_avg.npz); the others compute w_avg in the job
        info=lambda wc: (
            f"{OUT}/network.json"
            if wc.net == "net0"
            else f"{MON_DIR}/networks/{wc.net}.json"
        ),
        w_avg=lambda wc: [f"{OUT}/w_avg.npz"] if wc.net == "net0" else [],
    output:
        table=f"{MON_DIR}/radial/{{net}}_{{space}}.parquet",
    log:
        f"{OUT}/logs/monsters/radial_{{net}}_{{space}}.log",
    wildcard_constraints:
        net=r"net\d+",
        space="w|z",
    conda:
        GPU_ENV
    threads: 1
    resources:
        gpu=1,
    params:
        mon=mon_params(
            MON,
            "directions",
            "seed",
            "radii",
            "radius_unit",
            "batch_size",
            "scorers",
            "detector",
            "embedder",
            "w_avg",
        ),
    script:
        "../workflow/scripts/monsters/radial.py"


rule monsters_radial_summary:
    input:
        tables=MON_RADIAL,
    output:
        curves=report(
            f"{MON_DIR}/radial_curves.csv",
            caption="../workflow/report/monsters_curves.rst",
            category="Monsters",
            subcategory="Radial yield",
        ),
        radii=report(
            f"{MON_DIR}/monster_radii.csv",
            caption="../workflow/report/monsters_radii.rst",
            category="Monsters",
            subcategory="Radial yield",
        ),
        figures=report(
            [
                f"{MON_DIR}/figures/radial_yield.png",
                f"{MON_DIR}/figures/radial_score.png",
            ],
            caption="../workflow/report/monsters_radial.rst",
            category="Monsters",
            subcategory="Radial yield",
        ),
    log:
        f"{OUT}/logs/monsters/radial_summary.log",
    conda:
        "../envs/cpu.yaml"
    threads: 1
    params:
        mon=mon_params(MON, "bootstrap", "seed", "radius_unit"),
    script:
        "../workflow/scripts/monsters/radial_summary.py"


rule monsters_boundary:
    input:
        table=f"{OUT}/detections.parquet",
        walks=expand(f"{OUT}/walks/seed{{seed}}.npz", seed=SEEDS),
        radial=MON_RADIAL_NET0,
        info=f"{OUT}/network.json",
    output:
        normal=f"{MON_DIR}/boundary/normal.npy",
        meta=f"{MON_DIR}/boundary/boundary.json",
        strip=f"{MON_DIR}/boundary_strip.csv",
        figure=report(
            f"{MON_DIR}/figures/boundary_strip.png",
            caption="../workflow/report/monsters_boundary.rst",
            category="Monsters",
            subcategory="Detectability boundary",
        ),
    log:
        f"{OUT}/logs/monsters/boundary.log",
    conda:
        GPU_ENV
    threads: 1
    resources:
        gpu=1,
    params:
        mon=mon_params(MON, "boundary", "seed", "detector"),
    script:
        "../workflow/scripts/monsters/boundary.py"


rule monsters_embedding_map:
    input:
        table=f"{OUT}/detections.parquet",
        images=expand(
            f"{OUT}/images/seed{{seed}}/shard{{shard}}",
            seed=SEEDS,
            shard=range(N_SHARDS),
        ),
        radial=MON_RADIAL_NET0,
    output:
        table=f"{MON_DIR}/embeddings.parquet",
        meta=f"{MON_DIR}/embedding_map.json",
        drift=f"{MON_DIR}/drift.csv",
        identities=report(
            f"{MON_DIR}/identities.csv",
            caption="../workflow/report/monsters_identities.rst",
            category="Monsters",
            subcategory="Identity map",
        ),
        figures=report(
            [
                f"{MON_DIR}/figures/embedding_map.png",
                f"{MON_DIR}/figures/identity_drift.png",
            ],
            caption="../workflow/report/monsters_map.rst",
            category="Monsters",
            subcategory="Identity map",
        ),
    log:
        f"{OUT}/logs/monsters/embedding_map.log",
    conda:
        "../envs/cpu.yaml"
    threads: 2
    params:
        mon=mon_params(MON, "map", "seed"),
    script:
        "../workflow/scripts/monsters/embedding_map.py"


rule monsters_report:
    input:
        MON_SUMMARY,
        MON_BOUNDARY,
        MON_MAP,
        radial=MON_RADIAL_NET0,
    output:
        report=f"{MON_DIR}/report.md",
    log:
        f"{OUT}/logs/monsters/report.log",
    conda:
        "../envs/cpu.yaml"
    threads: 1
    script:
        "../workflow/scripts/monsters/report.py"


rule radial:
    input:
        MON_SUMMARY,


rule monster_boundary:
    input:
        MON_BOUNDARY,


rule embedding_map:
    input:
        MON_MAP,


rule monsters:
    input:
        MON_SUMMARY,
        MON_BOUNDARY,
        MON_MAP,
        f"{MON_DIR}/report.md",
