"""Train the default model on synthetic scenes, as SAM is trained.

    python -m training.train        # the shipped weights: weights/samcore_default_sam.safetensors

Each step draws fresh scenes (seeded by the step number, so a resumed run sees the
same data), encodes them once and prompts several objects per image. First prompt:
a single click (3 masks, loss = the minimum over them: SAM's ambiguity-aware loss),
a box (jittered or tight), or several clicks with negatives. Then correction rounds:
a click into the larger error of the previous mask, with the previous low-res
logits as ``mask_input``. Loss: 20 x focal + dice per mask, plus the IoU head's MSE.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from samcore.encoder_config import PIXEL_MEAN, PIXEL_STD
from samcore.spec.prompt_encoder import BOX_CORNER_LABELS
from training.clicks import correction_clicks, interior_points, random_points, tight_boxes
from training.decode import decode, embed_prompts, upscale
from training.losses import mask_iou, mask_losses
from training.model import DECODER, ENCODER, build_sam, save_model
from training.scenes import make_scene

CLICK, BOX, MULTI = 0, 1, 2


@dataclasses.dataclass(frozen=True)
class Batch:
    images: torch.Tensor  # float32 [B, 3, S, S], normalised and zero padded
    targets: np.ndarray  # bool [P, S, S], visible part of each prompted object
    image_index: np.ndarray  # int [P], which image each object is in


def preprocess(images: list[np.ndarray], size: int) -> torch.Tensor:
    """uint8 [H, W, 3] pictures (sides <= size) to SAM's input: normalised, zero padded, [B, 3, S, S]."""
    out = torch.zeros(len(images), 3, size, size)
    mean, std = torch.tensor(PIXEL_MEAN).view(3, 1, 1), torch.tensor(PIXEL_STD).view(3, 1, 1)
    for i, image in enumerate(images):
        h, w = image.shape[:2]
        out[i, :, :h, :w] = (torch.from_numpy(image).permute(2, 0, 1).float() - mean) / std
    return out


def make_batch(rng: np.random.Generator, images: int, objects: int, size: int) -> Batch:
    """``images`` fresh scenes (a quarter of them not square) and up to ``objects`` objects of each."""
    pictures, targets, index = [], [], []
    for i in range(images):
        shape = [size, size]
        if rng.random() < 0.25:
            shape[int(rng.integers(2))] = int(rng.integers(size * 5 // 8, size))
        scene = make_scene(rng, tuple(shape))
        pictures.append(scene.image)
        chosen = rng.permutation(len(scene.masks))[:objects]
        for j in chosen:
            padded = np.zeros((size, size), bool)
            padded[: shape[0], : shape[1]] = scene.masks[j]
            targets.append(padded)
            index.append(i)
    return Batch(preprocess(pictures, size), np.stack(targets), np.array(index))


def first_prompts(rng: np.random.Generator, targets: np.ndarray, kind: int) -> dict:
    """The first prompt of each target for a prompt ``kind``: coords/labels/boxes as numpy."""
    if kind == CLICK:
        centre = rng.random(len(targets)) < 0.5
        points = np.where(centre[:, None], interior_points(targets), random_points(rng, targets))
        return {"coords": points[:, None], "labels": np.ones((len(targets), 1), np.int64), "boxes": None}
    if kind == BOX:
        boxes = tight_boxes(targets)
        side = np.repeat(boxes[:, 2:] - boxes[:, :2], 2, axis=0).reshape(-1, 4)
        jitter = rng.normal(0, 0.05, boxes.shape) * side * (rng.random((len(boxes), 1)) < 0.7)
        size = targets.shape[-1] - 1
        return {"coords": None, "labels": None, "boxes": np.clip(boxes + jitter, 0, size).astype(np.float32)}
    positives, negatives = int(rng.integers(1, 4)), int(rng.integers(1, 3))
    pos = [random_points(rng, targets) for _ in range(positives)]
    near = np.zeros_like(targets)
    for i, box in enumerate(tight_boxes(targets).astype(int)):
        near[i, max(box[1] - 8, 0) : box[3] + 9, max(box[0] - 8, 0) : box[2] + 9] = True
    neg = [random_points(rng, near & ~targets) for _ in range(negatives)]
    labels = np.array([1] * positives + [0] * negatives, np.int64)
    return {"coords": np.stack(pos + neg, 1), "labels": np.broadcast_to(labels, (len(targets), len(labels))).copy(),
            "boxes": None}


def add_click(prompt: dict, points: np.ndarray, labels: np.ndarray) -> None:
    """Append one click per prompt (points [P, 2], labels [P]) in place."""
    if prompt["coords"] is None:
        prompt["coords"], prompt["labels"] = points[:, None], labels[:, None]
    else:
        prompt["coords"] = np.concatenate([prompt["coords"], points[:, None]], 1)
        prompt["labels"] = np.concatenate([prompt["labels"], labels[:, None]], 1)


def step_loss(sam: torch.nn.Module, batch: Batch, rng: np.random.Generator, rounds: int) -> tuple[torch.Tensor, dict]:
    """Loss of one batch over ``rounds`` prompting rounds, and per-round mean IoU for the log."""
    size = batch.images.shape[-1]
    embeddings = sam.image_encoder(batch.images)
    image_pe = sam.prompt_encoder.get_dense_pe()
    target = torch.from_numpy(batch.targets).float()
    kinds = rng.choice([CLICK, BOX, MULTI], size=len(batch.targets), p=[0.4, 0.35, 0.25])
    groups = [np.nonzero(kinds == k)[0] for k in (CLICK, BOX, MULTI)]
    prompts = [first_prompts(rng, batch.targets[g], k) if len(g) else None for k, g in enumerate(groups)]
    previous: list[torch.Tensor | None] = [None, None, None]
    total, stats = torch.zeros(()), {}
    for r in range(rounds):
        predicted = np.zeros_like(batch.targets)
        ious = []
        for k, g in enumerate(groups):
            if not len(g):
                continue
            p = prompts[k]
            sparse, dense = embed_prompts(sam.prompt_encoder, p["coords"], p["labels"], p["boxes"], previous[k])
            low_res, iou_pred = decode(sam.mask_decoder, embeddings[batch.image_index[g]], image_pe, sparse, dense)
            chosen = slice(1, 4) if (k == CLICK and r == 0) else slice(0, 1)
            low_res, iou_pred = low_res[:, chosen], iou_pred[:, chosen]
            logits = upscale(low_res, size)
            losses = mask_losses(logits, target[g])
            best = losses.argmin(dim=1)
            true_iou = mask_iou(logits.detach(), target[g])
            total = total + losses.min(dim=1).values.sum() + ((iou_pred - true_iou) ** 2).mean(dim=1).sum()
            rows = torch.arange(len(g))
            previous[k] = low_res[rows, best][:, None].detach()
            predicted[g] = (logits[rows, best] > 0).numpy()
            ious.append(true_iou[rows, best])
        stats[f"iou{r}"] = float(torch.cat(ious).mean())
        if r + 1 < rounds:
            deterministic = rng.random() < 0.5
            points, labels = correction_clicks(predicted, batch.targets, None if deterministic else rng)
            for k, g in enumerate(groups):
                if len(g):
                    add_click(prompts[k], points[g], labels[g])
    return total / (rounds * len(batch.targets)), stats


@torch.no_grad()
def validate(sam: torch.nn.Module, batch: Batch) -> dict[str, float]:
    """Mean IoU for a tight box and for a centre click (best-scored of 3 masks) on fixed scenes."""
    size = batch.images.shape[-1]
    embeddings = sam.image_encoder(batch.images)[batch.image_index]
    image_pe = sam.prompt_encoder.get_dense_pe()
    target = torch.from_numpy(batch.targets).float()
    result = {}
    for name, coords, labels, boxes, chosen in (
        ("val_box", None, None, tight_boxes(batch.targets), slice(0, 1)),
        ("val_click", interior_points(batch.targets)[:, None], np.ones((len(target), 1), np.int64), None, slice(1, 4)),
    ):
        sparse, dense = embed_prompts(sam.prompt_encoder, coords, labels, boxes, None)
        low_res, iou_pred = decode(sam.mask_decoder, embeddings, image_pe, sparse, dense)
        ious = mask_iou(upscale(low_res[:, chosen], size), target)
        result[name] = float(ious[torch.arange(len(target)), iou_pred[:, chosen].argmax(1)].mean())
    return result


def learning_rate(step: int, steps: int, peak: float, warmup: int, decay_from: int | None = None,
                  stop: int | None = None) -> float:
    """Linear warm-up to ``peak``, then cosine decay to 2% of it at ``steps``.

    With ``decay_from``: from that step on, a linear decay from the cosine's value
    there to zero at ``stop`` (a run cut short still ends annealed; the steps
    before ``decay_from`` do not depend on it, so a resumed run may set it).
    """
    if decay_from is not None and stop is not None and step >= decay_from:
        return learning_rate(decay_from, steps, peak, warmup) * (stop - step) / max(1, stop - decay_from)
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = (step - warmup) / max(1, steps - warmup)
    return peak * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0))))


def main(argv: list[str] | None = None) -> None:
    """Train (or resume) and write the safetensors file; see ``--help`` for the knobs."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="weights/samcore_default_sam.safetensors", help="safetensors file to write")
    ap.add_argument("--checkpoint", default="training_run/checkpoint.pt", help="resumable state, saved every --every")
    ap.add_argument("--log", default="training_run/log.jsonl", help="one JSON line of loss / IoU per --log-every")
    ap.add_argument("--steps", type=int, default=3300, help="length of the learning-rate schedule")
    ap.add_argument("--stop-at", type=int, default=2750, help="stop after this many steps (0: --steps)")
    ap.add_argument("--decay-from", type=int, default=2100, help="decay linearly to 0 from this step to --stop-at "
                    "(0: no linear decay)")
    ap.add_argument("--images", type=int, default=8, help="scenes per step")
    ap.add_argument("--objects", type=int, default=3, help="prompted objects per scene")
    ap.add_argument("--rounds", type=int, default=3, help="first prompt + correction rounds")
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--warmup", type=int, default=200)
    ap.add_argument("--every", type=int, default=200, help="checkpoint and validate every N steps")
    ap.add_argument("--log-every", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    args = ap.parse_args(argv)

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    sam = build_sam(ENCODER, DECODER)
    decay = [p for n, p in sam.named_parameters() if p.ndim > 1 and "rel_pos" not in n and "embed" not in n]
    rest = [p for n, p in sam.named_parameters() if not (p.ndim > 1 and "rel_pos" not in n and "embed" not in n)]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": 0.05}, {"params": rest, "weight_decay": 0.0}],
                                  lr=args.lr, betas=(0.9, 0.999))
    start = 0
    checkpoint = Path(args.checkpoint)
    if checkpoint.exists():
        state = torch.load(checkpoint, weights_only=True)
        sam.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        start = state["step"]
    for corner in BOX_CORNER_LABELS:  # box corners are told apart by position alone: no learnt type embedding
        sam.prompt_encoder.point_embeddings[corner].weight.data.zero_()
        sam.prompt_encoder.point_embeddings[corner].weight.requires_grad_(False)
    checkpoint.parent.mkdir(parents=True, exist_ok=True)
    Path(args.log).parent.mkdir(parents=True, exist_ok=True)
    val_batch = make_batch(np.random.default_rng([args.seed, 10**9]), 24, 3, ENCODER.img_size)
    began = time.time()
    stop = args.stop_at or args.steps
    bar = tqdm(range(start, stop), initial=start, total=stop, desc="train")
    with open(args.log, "a") as log:
        for step in bar:
            for group in optimizer.param_groups:
                group["lr"] = learning_rate(step, args.steps, args.lr, args.warmup, args.decay_from or None, stop)
            rng = np.random.default_rng([args.seed, step])
            batch = make_batch(rng, args.images, args.objects, ENCODER.img_size)
            sam.train()
            loss, stats = step_loss(sam, batch, rng, args.rounds)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(sam.parameters(), 1.0)
            optimizer.step()
            record = {"step": step + 1, "loss": round(float(loss), 4), **{k: round(v, 4) for k, v in stats.items()}}
            bar.set_postfix(loss=record["loss"], iou0=record["iou0"], iou_last=record[f"iou{args.rounds - 1}"])
            done = step + 1
            if done % args.every == 0 or done == stop:
                sam.eval()
                record |= {k: round(v, 4) for k, v in validate(sam, val_batch).items()}
                torch.save({"model": sam.state_dict(), "optimizer": optimizer.state_dict(), "step": done}, checkpoint)
            if done % args.log_every == 0 or "val_box" in record:
                record["seconds"] = round(time.time() - began, 1)
                log.write(json.dumps(record) + "\n")
                log.flush()
    trained = max(start, stop)  # a checkpoint past --stop-at is written as it is
    save_model(sam, args.out, {"samcore.training": json.dumps({"step": trained, **vars(args)})})


if __name__ == "__main__":
    main()
