"""Prompt strategies for the project's tests: the conformance kit's, by config value."""

from __future__ import annotations

from hypothesis import strategies as st

from samcore.config import DecoderConfig
from samcore.conformance.strategies import CONFIGS, Case, case_recipes

__all__ = ["Case", "decoder_cases"]


def decoder_cases(config: DecoderConfig, grid: tuple[int, int], **options) -> st.SearchStrategy[Case]:
    """Cases for one of the kit's CONFIGS, given by value (options as ``case_recipes``)."""
    name = next(n for n, (c, side) in CONFIGS.items() if c == config and (side, side) == tuple(grid))
    return case_recipes(name, **options).map(lambda recipe: recipe.build())
