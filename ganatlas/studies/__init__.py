"""The studies, one peer subpackage each (``walk``, ``semantics``, ...).

A study is ``studies/<name>/`` (settings, stages: one function per rule, figures, report) +
``rules/<name>.smk`` + its section of ``ganatlas/schema/config.schema.yaml`` +
``workflow/scripts/<name>/`` + ``tests/studies/<name>/`` + ``docs/<name>.md``. A study uses the
shared layers below it (networks, faces, attributes, latent, render, devices, atomic, smk) and
never another study's stages. See docs/architecture.md.
"""
