"""Semantic directions in latent space: InterFaceGAN boundaries, conditional directions, editing.

Modules: ``config`` (the ``semantics:`` section), ``sampling`` (seeded sharded latents, render,
score, Parquet), ``scoring`` (attribute scorers incl. a planted-truth scorer), ``boundary``
(top/bottom selection, split, linear SVM, accuracies, correlations), ``conditional``
(orthogonal projection), ``edit`` (edits, rescoring, linear fits), ``figures``, ``report`` and
``stages`` (what the workflow scripts call).
"""
