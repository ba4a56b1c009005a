"""hypothesis strategies for the conformance kit: configs with weights, embeddings, prompts.

Every drawn case is a ``CaseRecipe``: a few small numbers that rebuild the same
arrays anywhere, so a failure prints a snippet that reproduces it.
"""

from __future__ import annotations

import dataclasses

from hypothesis import strategies as st

from samcore.config import PRESETS, DecoderConfig
from samcore.conformance.cases import PROMPT_KINDS, Case, build_case

#: Decoder configurations the kit runs, by name, with their (square) embedding grid.
#: "tiny" and "odd" are small and fast; "vit_b" is the size of every official model.
CONFIGS: dict[str, tuple[DecoderConfig, int]] = {
    "tiny": (DecoderConfig(embed_dim=32, mlp_dim=64, num_heads=2, iou_head_hidden_dim=32), 8),
    "odd": (
        DecoderConfig(
            embed_dim=64, mlp_dim=96, depth=3, num_heads=4, num_mask_tokens=3, iou_head_hidden_dim=48,
            iou_head_depth=2, mask_in_chans=8, attention_downsample_rate=4,
        ),
        6,
    ),
    "vit_b": (PRESETS["sam_vit_b"], 64),
}
#: Seed of each config's random weights (``samcore.random_weights.random_params``).
WEIGHTS_SEED = 7


@dataclasses.dataclass(frozen=True)
class CaseRecipe:
    """What rebuilds a Case: config name, seed, batch, prompt kinds, points, labels."""

    config: str
    seed: int
    batch: int
    kinds: str
    points: int
    labels: tuple[int, ...]
    multimask_output: bool

    def build(self) -> Case:
        """The arrays of this recipe (same on every machine)."""
        config, side = CONFIGS[self.config]
        return build_case(config, (side, side), self.seed, self.batch, self.kinds, self.points, self.labels,
                          self.multimask_output)

    def snippet(self, backend: str) -> str:
        """Python that reproduces this case on ``backend`` against the spec."""
        return (
            "from samcore import Decoder\n"
            "from samcore.conformance.strategies import CONFIGS, WEIGHTS_SEED, CaseRecipe\n"
            "from samcore.random_weights import random_params\n"
            f"config = CONFIGS[{self.config!r}][0]\n"
            "params = random_params(config, WEIGHTS_SEED)\n"
            f"case = {self!r}.build()\n"
            f"port = Decoder(params, config, backend={backend!r}).predict(**case.kwargs())\n"
            "spec = Decoder(params, config, backend='reference').predict(**case.kwargs())\n"
        )


@st.composite
def case_recipes(
    draw: st.DrawFn,
    config: str,
    labels: tuple[int, ...] = (-1, 0, 1),
    kinds: tuple[str, ...] = PROMPT_KINDS,
    max_batch: int = 8,
    max_points: int = 16,
) -> CaseRecipe:
    """Prompts of every kind for a config of ``CONFIGS``: 1..max_points points of the
    given labels, with or without a box and mask input, batches of 1..max_batch."""
    return CaseRecipe(
        config=config,
        seed=draw(st.integers(0, 2**32 - 1)),
        batch=draw(st.integers(1, max_batch)),
        kinds=draw(st.sampled_from(kinds)),
        points=draw(st.integers(1, max_points)),
        labels=labels,
        multimask_output=draw(st.booleans()),
    )
