"""``OnnxExporter``: ``samcore export onnx`` and ``samcore verify FILE.onnx`` (entry point
``samcore.exporters: onnx``). Either interface of ``export_onnx``, run by ONNX Runtime, and
the image encoder (``export_encoder_onnx``, ``--part encoder``)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
from collections.abc import Mapping
from typing import Any

import numpy as np

from samcore.backend import FLOAT32_TOLERANCE, Availability
from samcore.cli.arguments import positive_int
from samcore.config import DecoderConfig, EncoderConfig, config_from_dict
from samcore.errors import InputError
from samcore.exporter import Exporter, ShippedFile, refuse_decoder_options
from samcore.inputs import Prompts
from samcore.spec.mask_decoder import select_masks


@dataclasses.dataclass
class OnnxFile(ShippedFile):
    """An ``export_onnx`` model in an ONNX Runtime session (CPU)."""

    interface: str = "samcore"
    session: Any = None

    def decode(
        self, image_embedding: np.ndarray, prompts: Prompts, multimask_output: bool
    ) -> tuple[np.ndarray, np.ndarray]:
        """One prompt through the model: SAM's labelled points, then the interface's feeds."""
        coords, labels = prompts.labelled_points()
        if self.interface == "samcore":
            feed = {"image_embedding": image_embedding, "point_coords": coords, "point_labels": labels}
            if prompts.mask_input is not None:
                feed["mask_input"] = prompts.mask_input
            logits, iou = self.session.run(["low_res_logits", "iou_predictions"], feed)
            return select_masks(logits, iou, multimask_output)
        h, w = self.grid
        mask = prompts.mask_input if prompts.mask_input is not None else np.zeros((1, 1, 4 * h, 4 * w), np.float32)
        feed = {
            "image_embeddings": image_embedding, "point_coords": coords, "point_labels": labels.astype(np.float32),
            "mask_input": mask, "has_mask_input": np.array([float(prompts.mask_input is not None)], np.float32),
            "orig_im_size": np.array(self.config.frame_size(self.grid), np.float32),
        }
        iou, logits = self.session.run(["iou_predictions", "low_res_masks"], feed)
        return (logits, iou) if self.selects_by_score else select_masks(logits, iou, multimask_output)


class OnnxExporter(Exporter):
    """The decoder traced from the spec as one ONNX model (``export_onnx``)."""

    name = "onnx"
    suffix = ".onnx"
    parts = ("decoder", "encoder")

    @classmethod
    def availability(cls) -> Availability:
        """onnx (to export) and onnxruntime (to run a file) importable."""
        from samcore_onnx.backend import OnnxBackend

        return OnnxBackend.availability()

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        """--interface, --opset, --single-mask."""
        parser.add_argument("--interface", choices=["samcore", "meta"], default="samcore",
                            help="samcore's I/O, or Meta's SamOnnxModel I/O (a drop-in for SAM apps)")
        parser.add_argument("--opset", type=positive_int, default=17, help="ONNX opset version (default: 17)")
        parser.add_argument("--single-mask", action="store_true", help="meta interface: return the best mask only")

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
        """``export_onnx`` to ``path``; the sorted ONNX op types of the model."""
        from samcore_onnx.export import export_onnx

        model = export_onnx(params, config, path, interface=options.interface, grid=grid, opset=options.opset,
                            return_single_mask=options.single_mask, with_mask_input=with_mask_input)
        return sorted({node.op_type for node in model.graph.node})

    @classmethod
    def export_encoder(
        cls,
        params: Mapping[str, np.ndarray],
        config: EncoderConfig,
        path: str | os.PathLike,
        options: argparse.Namespace,
    ) -> list[str]:
        """``export_encoder_onnx`` to ``path`` (dynamic batch); the sorted ONNX op types of the
        model. Refuses this format's decoder-only options, naming them."""
        from samcore_onnx.encoder_export import export_encoder_onnx

        refuse_decoder_options({"--interface meta": options.interface != "samcore",
                                "--single-mask": options.single_mask})
        model = export_encoder_onnx(params, config, path, opset=options.opset)
        return sorted({node.op_type for node in model.graph.node})

    @classmethod
    def open(cls, path: str | os.PathLike) -> OnnxFile:
        """A session on an ``export_onnx`` file, described by its metadata."""
        import onnx
        import onnxruntime

        meta = {p.key: p.value for p in onnx.load(os.fspath(path), load_external_data=False).metadata_props}
        interface = meta.get("samcore.interface")
        if interface not in ("samcore", "meta"):
            raise InputError(f"file: expected an `samcore export onnx` model (interface samcore or meta), "
                             f"got interface {interface!r} in {os.fspath(path)!r}")
        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3
        session = onnxruntime.InferenceSession(os.fspath(path), options, providers=["CPUExecutionProvider"])
        h, w = (int(n) for n in meta["samcore.grid"].split("x"))
        with_mask = meta["samcore.mask_input"] == "true"
        single = meta.get("samcore.return_single_mask") == "true"
        return OnnxFile(
            path=os.fspath(path), config=config_from_dict(json.loads(meta["samcore.config"])), grid=(h, w),
            weights_sha256=meta["samcore.weights_sha256"], dtype="float32", tolerances=FLOAT32_TOLERANCE,
            description=f"ONNX, {interface} interface, float32, grid {h}x{w}" + (", single mask" if single else ""),
            mask_input=(True, False) if interface == "meta" else (with_mask,), max_tokens=None,
            selects_by_score=single, interface=interface, session=session,
        )
