"""One click: each decoder against Meta's official ONNX decoder, ratio taken round by round.

This host's speed drifts by up to 2x over seconds (a shared 2-vCPU machine), so two
decoders timed in separate stretches (``decoder.py``) can compare badly. Here every
round gives each decoder one block: warm-up clicks (the decoder before left the caches
cold and its runtime's idle threads spinning), then timed clicks; a block's figure is
the median of its clicks, and each decoder's ratio to the official ONNX decoder is taken
within the round. Prints medians over rounds, writes JSON. Same weights, embedding and
prompt as ``decoder.py`` (ViT-B preset, one foreground click plus SAM's padding point).

    python benchmarks/click_pairs.py [--rounds 12] [--only "samcore onnx" "samcore torch float32"]
                                     [--json benchmarks/results/click_pairs.json]

End to end (``--original-size H W``): the binary masks at the image's size, as an app shows
them. samcore: ``predict`` then ``out.masks((H, W))`` (3 masks; with ``--single-mask`` only
the best one by predicted IoU, through ``binary_masks``). Meta: its ONNX export with the
resize, as scripts/export_onnx_model.py writes it (default ``return_single_mask=False``:
4 masks at the image size; ``--single-mask``: its --return-single-mask, one), ``masks > 0``
in NumPy; ratios are to it. The decoders without the resize run in the same rounds (the
rows "decoder only"), so the table also says what the resize costs each side.

    python benchmarks/click_pairs.py --original-size 1500 2250 --only "samcore onnx" [--single-mask]
"""

from __future__ import annotations

import argparse
import os
import statistics

import numpy as np
from decoder import OFFICIAL_ONNX, _official_runners, _samcore_runners, _seconds, one_click, sgemm_gflops, write_record

from samcore import DecoderOutput, binary_masks

#: The official ONNX decoder without its resize, timed beside the end-to-end runs.
DECODER_ONLY = " (decoder only)"


def _with_masks(run, size: tuple[int, int], single_mask: bool):
    """A samcore runner that returns the binary masks at ``size``: all of them, or the best."""

    def masks(coords, labels):
        out: DecoderOutput = run(coords, labels)
        if not single_mask:
            return out.masks(size)
        best = out.iou_predictions.argmax(axis=1)  # Meta's pick for 2+ points (a click and the padding)
        return binary_masks(out.low_res_logits[np.arange(len(best)), best][:, None], size, out.frame_size)

    return masks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--clicks", type=int, default=10, help="timed clicks per block")
    parser.add_argument("--warmup", type=int, default=5, help="untimed clicks at the start of a block")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--only", nargs="+", metavar="TEXT", default=["samcore onnx", "samcore numpy"],
                        help="decoders whose name contains one (also 'official torch'; the official ONNX always runs)")
    parser.add_argument("--json", default="benchmarks/results/click_pairs.json", help="where to write the record")
    parser.add_argument("--original-size", type=int, nargs=2, metavar=("H", "W"),
                        help="end to end: binary masks at this image size (see above)")
    parser.add_argument("--single-mask", action="store_true",
                        help="with --original-size: Meta's --return-single-mask export; samcore resizes its best mask")
    args = parser.parse_args()
    size = tuple(args.original_size) if args.original_size else None

    config, params, embedding, coords, labels = one_click()
    official = _official_runners(params, config, args.threads, embedding)
    if OFFICIAL_ONNX not in official:
        raise SystemExit("the official ONNX decoder is needed (segment-anything, torch, onnx, onnxruntime)")
    runners = {name: run for name, (run, _) in _samcore_runners(params, config, embedding, args.only).items()}
    if size is not None:  # end to end, beside the decoders alone
        runners = {**{f"{name} + masks": _with_masks(run, size, args.single_mask) for name, run in runners.items()},
                   **{name + DECODER_ONLY: run for name, run in runners.items()},
                   OFFICIAL_ONNX + DECODER_ONLY: official[OFFICIAL_ONNX][0]}
        official = _official_runners(params, config, args.threads, embedding, size, args.single_mask)
    runners |= {name: run for name, (run, _) in official.items()  # the official ONNX decoder always, last
                if name != OFFICIAL_ONNX and any(text in name for text in args.only)}
    runners[OFFICIAL_ONNX] = official[OFFICIAL_ONNX][0]
    peak = sgemm_gflops()

    blocks: dict[str, list[float]] = {name: [] for name in runners}
    for _ in range(args.rounds):
        for name, run in runners.items():
            for _ in range(args.warmup):
                run(coords, labels)
            blocks[name].append(statistics.median(_seconds(lambda r=run: r(coords, labels)) * 1e3
                                                  for _ in range(args.clicks)))
    ratios = {name: [a / b for a, b in zip(blocks[name], blocks[OFFICIAL_ONNX], strict=True)] for name in runners}

    print(f"\nViT-B decoder, one click, ms: median (min-max) over {args.rounds} rounds of block medians "
          f"({args.clicks} timed clicks after {args.warmup} untimed), {args.threads} threads; sgemm peak {peak:.0f} "
          f"GFLOP/s; load average {os.getloadavg()[0]:.1f}; ratio to the official ONNX decoder within each round")
    if size is not None:
        print(f"end to end: binary masks at {size[0]}x{size[1]}; " + (
            "one each (Meta: --return-single-mask export; samcore: its best by IoU)" if args.single_mask else
            "Meta: its script's default export, 4 masks; samcore: 3 masks (multimask)")
            + f"; ratios to {OFFICIAL_ONNX} with the resize")
    print(f"{'decoder':<46}{'ms':>24}{'ratio':>22}")
    for name in runners:
        ms, r = blocks[name], ratios[name]
        print(f"{name:<46}{f'{statistics.median(ms):.1f} ({min(ms):.1f}-{max(ms):.1f})':>24}"
              f"{f'{statistics.median(r):.2f}x ({min(r):.2f}-{max(r):.2f})':>22}")
    write_record(args.json, args.threads, peak, {"rounds": args.rounds, "clicks": args.clicks, "warmup": args.warmup,
                                                 "original_size": size, "single_mask": args.single_mask,
                                                 "block_median_ms": blocks, "ratio_to_official_onnx": ratios})


if __name__ == "__main__":
    main()
