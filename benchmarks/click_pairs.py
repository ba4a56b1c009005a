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
"""

from __future__ import annotations

import argparse
import os
import statistics

from decoder import OFFICIAL_ONNX, _official_runners, _samcore_runners, _seconds, one_click, sgemm_gflops, write_record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--clicks", type=int, default=10, help="timed clicks per block")
    parser.add_argument("--warmup", type=int, default=5, help="untimed clicks at the start of a block")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--only", nargs="+", metavar="TEXT", default=["samcore onnx", "samcore numpy"],
                        help="decoders whose name contains one (also 'official torch'; the official ONNX always runs)")
    parser.add_argument("--json", default="benchmarks/results/click_pairs.json", help="where to write the record")
    args = parser.parse_args()

    config, params, embedding, coords, labels = one_click()
    official = _official_runners(params, config, args.threads, embedding)
    if OFFICIAL_ONNX not in official:
        raise SystemExit("the official ONNX decoder is needed (segment-anything, torch, onnx, onnxruntime)")
    runners = {name: run for name, (run, _) in _samcore_runners(params, config, embedding, args.only).items()}
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
          "GFLOP/s; ratio to the official ONNX decoder within each round")
    print(f"{'decoder':<30}{'ms':>24}{'ratio':>22}")
    for name in runners:
        ms, r = blocks[name], ratios[name]
        print(f"{name:<30}{f'{statistics.median(ms):.1f} ({min(ms):.1f}-{max(ms):.1f})':>24}"
              f"{f'{statistics.median(r):.2f}x ({min(r):.2f}-{max(r):.2f})':>22}")
    write_record(args.json, args.threads, peak, {"rounds": args.rounds, "clicks": args.clicks, "warmup": args.warmup,
                                                 "block_median_ms": blocks, "ratio_to_official_onnx": ratios})


if __name__ == "__main__":
    main()
