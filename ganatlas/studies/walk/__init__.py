"""The walk study: average latent, seeded random walks, rendering in shards, face detection,
merged tables and the report (how far from the average face do faces stay detectable?).

Modules: ``settings`` (typed settings from the validated config), ``walk`` (the random walk),
``stages`` (one function per rule of rules/walk.smk) and ``report`` (tables, figures, report.md).
"""
