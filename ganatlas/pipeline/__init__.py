"""Stage functions the workflow's scripts call (one per rule); all logic, no Snakemake."""
