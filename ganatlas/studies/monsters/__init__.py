"""Where the monsters live: how far from the centre of the latent space faces stay detectable.

Targets (rules/monsters.smk): ``radial`` (yield along K random directions from w_avg in W and
from the origin in Z, with Wilson intervals and the monster radii r90/r50), ``monster_boundary``
(a linear SVM separating detected from undetected samples, with an edit strip along its normal)
and ``embedding_map`` (the detected faces' identity embeddings in 2-D, identity drift along each
walk, HDBSCAN identity clusters). See docs/monsters.md.
"""
