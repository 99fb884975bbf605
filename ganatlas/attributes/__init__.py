"""Attribute scorers: plug-ins that turn face crops into named scores (pose, age, gender, smile,
any classifier from config). See ``docs/scorers.md``."""

from ganatlas.attributes.base import Scorer, score_images
from ganatlas.attributes.registry import SCORER_TYPES, build_scorers

__all__ = ["SCORER_TYPES", "Scorer", "build_scorers", "score_images"]
