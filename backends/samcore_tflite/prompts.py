"""Prompts for a graph of N tokens: SAM's K gathered tokens, then N - K fillers."""

from __future__ import annotations

import numpy as np

from samcore.spec.prompt_encoder import PADDING_LABEL


def fill_tokens(coords: np.ndarray, labels: np.ndarray, points: int) -> tuple[np.ndarray, np.ndarray, int]:
    """SAM's labelled points (``Prompts.labelled_points``: coords [B, K, 2], labels [B, K],
    K <= ``points``) followed by ``points`` - K fillers (0, 0) labelled -1
    -> (coords [B, N, 2] float32, labels [B, N] int32, K). The graphs take K as num_tokens
    and never attend to the fillers."""
    batch, tokens = labels.shape
    pad = points - tokens
    coords = np.concatenate([coords, np.zeros((batch, pad, 2), np.float32)], axis=1)
    labels = np.concatenate([labels, np.full((batch, pad), PADDING_LABEL, np.int64)], axis=1)
    return coords, labels.astype(np.int32), tokens
