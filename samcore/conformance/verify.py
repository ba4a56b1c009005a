"""``verify_file``: run a shipped file (``samcore export``'s output) on the kit's prompts and
compare it with the spec at the file's declared tolerance (``samcore verify FILE --weights W``).

The file's format is found by its suffix among the registered exporters
(``samcore.exporters`` entry points), which open it and run it; samcore itself names none.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping

import numpy as np

from samcore.config import DecoderConfig
from samcore.conformance.assertions import MIN_MASK_IOU, mask_iou
from samcore.conformance.cases import PROMPT_KINDS, Case, build_case
from samcore.errors import InputError
from samcore.exporter import ShippedFile
from samcore.inputs import check_embedding, check_prompts
from samcore.spec import decode, decode_all_tokens
from samcore.weights import params_sha256

#: Points per case, cycled over the prompt kinds (capped by what the file holds).
POINTS = (1, 3, 6)
#: Seed of the first case; case i uses SEED + i.
SEED = 2024


@dataclasses.dataclass(frozen=True)
class CaseResult:
    """One case: its prompt, the largest |file - spec| per output, the worst binarised-mask IoU."""

    name: str
    logits_error: float
    iou_error: float
    mask_iou: float
    passed: bool


@dataclasses.dataclass(frozen=True)
class Verification:
    """Every case of one file."""

    path: str
    description: str
    cases: list[CaseResult]

    @property
    def passed(self) -> bool:
        """All cases within the file's declared tolerance (float32: and masks with IoU >= 0.99)."""
        return all(c.passed for c in self.cases)

    def table(self) -> str:
        """The cases, one line each, and a summary line."""
        lines = [f"{self.path}: {self.description}",
                 f"{'case':<36}{'max |logit err|':>16}{'max |IoU err|':>15}{'mask IoU':>10}  result"]
        lines += [f"{c.name:<36}{c.logits_error:>16.3g}{c.iou_error:>15.3g}{c.mask_iou:>10.4f}  "
                  f"{'ok' if c.passed else 'FAIL'}" for c in self.cases]
        failed = sum(not c.passed for c in self.cases)
        lines.append(
            f"{len(self.cases)} cases, max |logit err| {max(c.logits_error for c in self.cases):.3g}, "
            f"max |IoU err| {max(c.iou_error for c in self.cases):.3g}, "
            f"min mask IoU {min(c.mask_iou for c in self.cases):.4f}: "
            + ("PASSED" if not failed else f"FAILED ({failed} of {len(self.cases)} cases)")
        )
        return "\n".join(lines)


def kit_cases(file: ShippedFile) -> list[tuple[str, Case]]:
    """The kit's prompts that ``file`` takes: every prompt kind of its mask-input settings,
    1, 3 and 6 points (fewer where the file holds fewer tokens), both multimask settings."""
    cases = []
    kinds = [k for k in PROMPT_KINDS if ("mask" in k) in file.mask_input]
    for i, kind in enumerate(kinds):
        for j, multimask in enumerate((True, False)):
            points = POINTS[(2 * i + j) % len(POINTS)]
            if file.max_tokens is not None:  # tokens: the points, SAM's padding point or 2 box corners
                points = min(points, file.max_tokens - (2 if "box" in kind else 1))
            if points < 1 and "points" in kind:
                continue
            seed = SEED + len(cases)
            case = build_case(file.config, file.grid, seed, 1, kind, points, (-1, 0, 1), multimask)
            name = f"{kind}, {points if 'points' in kind else 0} pts, {'multi' if multimask else 'single'}"
            cases.append((name, case))
    return cases


def _spec(params: Mapping[str, np.ndarray], config: DecoderConfig, file: ShippedFile, case: Case, prompts):
    """The spec's (logits, IoU) of what ``file`` returns for ``case``."""
    args = (params, config, case.image_embedding, prompts.point_coords, prompts.point_labels, prompts.boxes,
            prompts.mask_input)
    if not file.selects_by_score:
        return decode(*args, case.multimask_output)
    logits, iou = decode_all_tokens(*args)  # SamOnnxModel.select_masks: token 0 beyond 2.5 points
    tokens = prompts.labelled_points()[0].shape[1]
    best = np.argmax(iou + (tokens - 2.5) * np.eye(1, iou.shape[1], dtype=np.float32) * 1000, axis=1)
    return logits[np.arange(len(best)), best][:, None], iou[np.arange(len(best)), best][:, None]


def verify_file(path: str | os.PathLike, params: Mapping[str, np.ndarray], config: DecoderConfig) -> Verification:
    """Run the exported file at ``path`` on the kit's prompts (``kit_cases``) and compare each
    output with the spec on ``params`` (the weights it was exported from) at the file's
    declared tolerance; float32 files must also give binarised masks with IoU >= 0.99.
    Raises ``InputError`` when the file was exported from other weights or another config."""
    from samcore.registry import exporter_for

    file = exporter_for(os.fspath(path)).open(path)
    if file.config != config:
        raise InputError(f"weights: expected the config the file was exported with ({file.config}), got {config}")
    digest = params_sha256(params, config)
    if digest != file.weights_sha256:
        raise InputError(f"weights: expected the weights the file was exported from (sha256 "
                         f"{file.weights_sha256[:12]}...), got sha256 {digest[:12]}...")
    results = []
    for name, case in kit_cases(file):
        embedding = check_embedding(case.image_embedding, config.embed_dim)
        prompts = check_prompts(case.point_coords, case.point_labels, case.boxes, case.mask_input, file.grid,
                                config.frame_size(file.grid))
        got = file.decode(embedding, prompts, case.multimask_output)
        want = _spec(params, config, file, case, prompts)
        errors, within = [], True
        for output, a, b in zip(("low_res_logits", "iou_predictions"), got, want, strict=True):
            if a.shape != b.shape:
                raise AssertionError(f"{name}: {output} of shape {list(a.shape)}, the spec's {list(b.shape)}")
            diff = np.abs(a.astype(np.float64) - b)
            errors.append(float(np.nanmax(diff)) if np.isfinite(diff).all() else float("inf"))
            within &= bool(np.all(diff <= file.tolerances[output].bound(b)))
        overlap = float(mask_iou(got[0], want[0]).min())
        passed = within and (file.dtype != "float32" or overlap >= MIN_MASK_IOU)
        results.append(CaseResult(name, errors[0], errors[1], overlap, passed))
    return Verification(os.fspath(path), file.description, results)
