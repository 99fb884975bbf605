# Resolve `network` (catalogue name, path or URL) once, on the submitting host (may download).
# A local network file is an input: changing it reruns this rule and everything after it.
from ganatlas.networks.resolve import local_network_file


rule network:
    input:
        local_network_file(config["network"]),
    output:
        info=f"{OUT}/network.json",
    log:
        f"{OUT}/logs/network.log",
    localrule: True
    conda:
        "../envs/cpu.yaml"
    threads: 1
    params:
        spec=config["network"],
        which=config["network_which"],
        cache_dir=config["cache_dir"],
    script:
        "../workflow/scripts/network.py"
