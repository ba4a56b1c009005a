"""``TFLiteExporter``: ``samcore export tflite`` and ``samcore verify FILE.tflite`` (entry point
``samcore.exporters: tflite``). ``export_tflite``'s files, run by LiteRT."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
from collections.abc import Mapping
from typing import Any

import numpy as np

from samcore.backend import Availability
from samcore.cli.arguments import positive_int
from samcore.config import DecoderConfig, config_from_dict
from samcore.errors import InputError
from samcore.exporter import Exporter, ShippedFile
from samcore.inputs import Prompts
from samcore.spec.mask_decoder import select_masks
from samcore_tflite.backend import QUANTIZE, TFLiteBackend
from samcore_tflite.prompts import fill_tokens


@dataclasses.dataclass
class TFLiteFile(ShippedFile):
    """An ``export_tflite`` file in a LiteRT interpreter (one thread)."""

    interpreter: Any = None

    def decode(
        self, image_embedding: np.ndarray, prompts: Prompts, multimask_output: bool
    ) -> tuple[np.ndarray, np.ndarray]:
        """One prompt: SAM's K labelled points, fillers up to the file's N, num_tokens = K."""
        it = self.interpreter
        coords, labels, tokens = fill_tokens(*prompts.labelled_points(), self.max_tokens)
        feed = {"image_embedding": image_embedding, "point_coords": coords, "point_labels": labels,
                "num_tokens": np.array([tokens], np.int32)}
        if prompts.mask_input is not None:
            feed["mask_input"] = prompts.mask_input
        inputs = {d["name"]: d["index"] for d in it.get_input_details()}
        for name, value in feed.items():
            it.set_tensor(inputs[name], value)
        it.invoke()
        outputs = {d["name"]: it.get_tensor(d["index"]) for d in it.get_output_details()}
        return select_masks(outputs["low_res_logits"], outputs["iou_predictions"], multimask_output)


class TFLiteExporter(Exporter):
    """The decoder as one .tflite file of builtin operators (``export_tflite``)."""

    name = "tflite"
    suffix = ".tflite"

    @classmethod
    def availability(cls) -> Availability:
        """A TFLite interpreter and onnx (tracing) importable."""
        return TFLiteBackend.availability()

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        """--points (required) and --quantize."""
        parser.add_argument("--points", type=positive_int, required=True,
                            help="tokens per prompt, fixed (fill with any tokens and pass num_tokens)")
        parser.add_argument("--quantize", choices=["fp16", "int8"], help="float16 weights or int8 dynamic range")

    @classmethod
    def export(
        cls,
        params: Mapping[str, np.ndarray],
        config: DecoderConfig,
        path: str | os.PathLike,
        grid: tuple[int, int],
        with_mask_input: bool,
        options: argparse.Namespace,
    ) -> list[str]:
        """``export_tflite`` to ``path``; the sorted builtin operators of the file."""
        from samcore_tflite.export import export_tflite

        return export_tflite(params, config, path, points=options.points, quantize=options.quantize, grid=grid,
                             with_mask_input=with_mask_input)

    @classmethod
    def open(cls, path: str | os.PathLike) -> TFLiteFile:
        """An interpreter on an ``export_tflite`` file, described by its metadata."""
        from samcore_tflite.export import METADATA_NAME
        from samcore_tflite.runtime import open_interpreter
        from samcore_tflite.writer import tflite_metadata

        meta = json.loads(tflite_metadata(os.fspath(path)).get(METADATA_NAME, b"{}"))
        if "samcore.points" not in meta or "samcore.graph" in meta:
            raise InputError(f"file: expected a `samcore export tflite` file, got {os.fspath(path)!r} "
                             f"(metadata: {sorted(meta) or 'none'})")
        dtype = {quantize: dtype for dtype, quantize in QUANTIZE.items()}[
            None if meta["samcore.quantize"] == "none" else meta["samcore.quantize"]]
        h, w = (int(n) for n in meta["samcore.grid"].split("x"))
        points = int(meta["samcore.points"])
        return TFLiteFile(
            path=os.fspath(path), config=config_from_dict(meta["samcore.config"]), grid=(h, w),
            weights_sha256=meta["samcore.weights_sha256"], dtype=dtype, tolerances=TFLiteBackend.tolerances[dtype],
            description=f"TFLite, {dtype}, {points} tokens, grid {h}x{w}",
            mask_input=(bool(meta["samcore.mask_input"]),), max_tokens=points, selects_by_score=False,
            interpreter=open_interpreter(os.fspath(path), 1),
        )
