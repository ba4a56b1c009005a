"""The Exporter protocol: a file format the decoder ships in, registered like a backend.

An exporter writes the decoder as a file (``export``), and, when its ``parts`` include
"encoder", the image encoder too (``export_encoder``), adds its options to
``samcore export FORMAT`` (``add_arguments``), and opens a file it wrote as a
``ShippedFile`` that ``samcore verify`` runs against the spec (``open``).
Registering is an entry point in the ``samcore.exporters`` group naming the subclass,
so samcore itself names no format.
"""

from __future__ import annotations

import abc
import argparse
import dataclasses
import os
from collections.abc import Mapping
from typing import ClassVar

import numpy as np

from samcore.backend import Availability, Tolerance
from samcore.config import DecoderConfig, EncoderConfig
from samcore.errors import InputError
from samcore.inputs import Prompts


@dataclasses.dataclass
class ShippedFile(abc.ABC):
    """An exported file, opened to run: what it declares and one way to decode with it."""

    path: str
    config: DecoderConfig
    grid: tuple[int, int]  # (h, w) of the embeddings it takes
    weights_sha256: str  # of the weights it was exported from (its metadata)
    dtype: str  # "float32", or the reduced precision of its weights ("float16", "int8")
    tolerances: Mapping[str, Tolerance]  # output name -> its declared tolerance against the spec
    description: str  # one line: format, interface, dtype, ...
    mask_input: tuple[bool, ...]  # the mask-input settings it runs: (True,), (False,) or both
    max_tokens: int | None  # SAM's gathered tokens per prompt it holds (None: any number)
    selects_by_score: bool  # one mask chosen as Meta's SamOnnxModel does (else SAM's multimask rule)

    @abc.abstractmethod
    def decode(
        self, image_embedding: np.ndarray, prompts: Prompts, multimask_output: bool
    ) -> tuple[np.ndarray, np.ndarray]:
        """Run the file on a checked embedding [1, C, h, w] and one checked prompt (B = 1)
        -> low-res logits [1, M, 4h, 4w] and IoU [1, M] float32: M = T-1 masks with
        ``multimask_output`` else 1 (token 0), or the file's one chosen mask with ``selects_by_score``."""


def refuse_decoder_options(given: Mapping[str, bool]) -> None:
    """For ``--part encoder``: raise an InputError naming each decoder-only option set
    (``given``: option as the user wrote it -> whether it is set)."""
    named = [option for option, is_set in given.items() if is_set]
    if named:
        raise InputError(f"--part encoder: expected no decoder options, got {', '.join(named)}")


class Exporter(abc.ABC):
    """One file format. Subclasses set ``name`` and ``suffix`` and implement the four methods."""

    name: ClassVar[str]  # the ``samcore export NAME`` subcommand
    suffix: ClassVar[str]  # the file name suffix it writes (".onnx"), how ``verify`` finds it
    parts: ClassVar[tuple[str, ...]] = ("decoder",)  # what ``samcore export NAME --part`` may write

    @classmethod
    @abc.abstractmethod
    def availability(cls) -> Availability:
        """Whether what it needs to export and to run files is importable here."""

    @classmethod
    @abc.abstractmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        """Add this format's options to ``samcore export NAME`` (weights, -o, --grid and
        --no-mask-input are there already)."""

    @classmethod
    @abc.abstractmethod
    def export(
        cls,
        params: Mapping[str, np.ndarray],
        config: DecoderConfig,
        path: str | os.PathLike,
        grid: tuple[int, int],
        with_mask_input: bool,
        options: argparse.Namespace,
    ) -> list[str]:
        """Write the decoder for embeddings of ``grid`` to ``path``; the sorted operator names it uses."""

    @classmethod
    def export_encoder(
        cls,
        params: Mapping[str, np.ndarray],
        config: EncoderConfig,
        path: str | os.PathLike,
        options: argparse.Namespace,
    ) -> list[str]:
        """Write the image encoder (images [B, 3, S, S] -> embeddings) to ``path``; the sorted
        operator names it uses. Only exporters whose ``parts`` include "encoder" implement it."""
        raise InputError(f"export {cls.name}: expected a format with an image-encoder export, "
                         f"got {cls.name} (parts: {', '.join(cls.parts)})")

    @classmethod
    @abc.abstractmethod
    def open(cls, path: str | os.PathLike) -> ShippedFile:
        """Open a file this exporter wrote (its metadata says how to run it)."""
