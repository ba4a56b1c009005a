"""Load on the embedding service: C concurrent clients x N distinct images each, on 127.0.0.1 only.

Starts ``samcore serve`` as a subprocess on a free loopback port (a small whole SAM with
seeded random weights unless ``--weights`` is given), then every client uploads its
images one after another; a 503 is retried after its Retry-After (which it must carry).
Checks that every request is answered (200 at last, none lost, every ETag the image's
content key) and reports latency percentiles (first attempt to 200), retries, the
encoder's batch count and the server's peak RSS. Bounded: at most ``--max-attempts``
tries per image and ``--time-limit`` seconds in all. Prints a table, writes JSON.

    python benchmarks/service.py [--clients 32] [--images 8] [--json benchmarks/results/service.json]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import pathlib
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

import numpy as np

from samcore.client import image_file
from samcore.content_key import content_key


def random_sam(folder: pathlib.Path, preset: str) -> pathlib.Path:
    """A whole SAM (image encoder + decoder) of seeded random weights in ``preset``'s layout, written to ``folder``."""
    from samcore.cli import main as samcore_main

    weights = folder / f"{preset}.safetensors"
    samcore_main(["random-weights", str(weights), "--preset", preset, "--encoder"])
    return weights


def write_json(path: str, fields: dict) -> None:
    """Write ``fields`` and this machine's details as JSON to ``path``."""
    out = pathlib.Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    machine = {"platform": platform.platform(), "cpus": os.cpu_count(), "load_average": os.getloadavg()}
    out.write_text(json.dumps({"machine": machine, **fields}, indent=2))
    print(f"wrote {out}")


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(weights: pathlib.Path, folder: pathlib.Path, options: list[str]) -> tuple[subprocess.Popen, str]:
    """``samcore serve`` on 127.0.0.1 (log in ``folder/server.log``); returns (process, base URL) once healthy."""
    port, url = free_port(), ""
    env = {**os.environ, "SAMCORE_CACHE": str(folder)}
    command = [sys.executable, "-c", "import sys; from samcore.cli import main; sys.exit(main())", "serve",
               "-w", str(weights), "--host", "127.0.0.1", "--port", str(port), "--cache-dir", str(folder / "disk"),
               *options]
    with open(folder / "server.log", "ab") as log:
        process = subprocess.Popen(command, stdout=log, stderr=log, env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=5):
                return process, url
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"samcore serve did not start: {(folder / 'server.log').read_text()[-2000:]}")


def peak_rss_mb(pid: int) -> float:
    """Peak resident memory (VmHWM) of a Linux process, MB; NaN elsewhere."""
    try:
        for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def pictures(count: int, seed: int) -> list[bytes]:
    """``count`` distinct PNG files of 240-480 x 320-640 pixels (seeded noise with shapes)."""
    rng = np.random.default_rng(seed)
    files = []
    for _ in range(count):
        h, w = int(rng.integers(240, 481)), int(rng.integers(320, 641))
        image = rng.integers(0, 256, (h // 8, w // 8, 3), dtype=np.uint8).repeat(8, 0).repeat(8, 1)
        files.append(image_file(np.ascontiguousarray(image))[0])
    return files


def upload(url: str, data: bytes, max_attempts: int, deadline: float) -> dict:
    """POST one image until a 200 (503s retried after their Retry-After); what happened, timed."""
    start, attempts, retry_afters = time.perf_counter(), 0, []
    while attempts < max_attempts and time.monotonic() < deadline:
        attempts += 1
        request = urllib.request.Request(url + "/v1/embeddings", data, {"Content-Type": "image/png"})
        try:
            with urllib.request.urlopen(request, timeout=max(1.0, deadline - time.monotonic())) as response:
                body = response.read()
                return {"status": 200, "attempts": attempts, "etag": response.headers["ETag"].strip('"'),
                        "bytes": len(body), "seconds": time.perf_counter() - start, "retry_afters": retry_afters}
        except urllib.error.HTTPError as exc:
            if exc.code != 503:
                return {"status": exc.code, "attempts": attempts, "seconds": time.perf_counter() - start}
            retry_afters.append(exc.headers.get("Retry-After"))
            time.sleep(float(exc.headers.get("Retry-After") or 1))
    return {"status": None, "attempts": attempts, "seconds": time.perf_counter() - start,
            "retry_afters": retry_afters}


def run(weights: pathlib.Path, clients: int, images: int, server_options: list[str], max_attempts: int = 30,
        time_limit: float = 300.0, seed: int = 0) -> dict:
    """Start the service, load it, stop it; the results as a dict (see the module docstring)."""
    with tempfile.TemporaryDirectory(prefix="samcore-service-bench-") as tmp:
        folder = pathlib.Path(tmp)
        process, url = start_server(weights, folder, server_options)
        try:
            with urllib.request.urlopen(url + "/v1/models", timeout=10) as r:
                model = json.loads(r.read())["models"][0]
            files = pictures(clients * images, seed)
            deadline = time.monotonic() + time_limit

            def client(index: int) -> list[dict]:
                mine = files[index * images : (index + 1) * images]
                return [upload(url, data, max_attempts, deadline) | {"data": data} for data in mine]

            start = time.perf_counter()
            with concurrent.futures.ThreadPoolExecutor(clients) as pool:
                results = [r for rs in pool.map(client, range(clients)) for r in rs]
            wall = time.perf_counter() - start
            with urllib.request.urlopen(url + "/healthz", timeout=10) as r:
                health = json.loads(r.read())
            rss = peak_rss_mb(process.pid)
        finally:
            process.terminate()
            process.wait(30)
    answered = [r for r in results if r["status"] == 200]
    keys_ok = all(r["etag"] == content_key(r["data"], model["id"], model["preprocessing"]) for r in answered)
    latencies = sorted(r["seconds"] * 1e3 for r in answered)
    retried = [r for r in results if r["attempts"] > 1]
    return {
        "clients": clients, "images_per_client": images, "requests": len(results), "answered_200": len(answered),
        "lost": len(results) - len(answered), "other_status": sorted({r["status"] for r in results} - {200}),
        "etags_are_content_keys": keys_ok, "requests_retried_after_503": len(retried),
        "responses_503": sum(r["attempts"] - 1 for r in results),
        "every_503_had_retry_after": all(v is not None for r in results for v in r.get("retry_afters", [])),
        "p50_ms": statistics.median(latencies) if latencies else None,
        "p95_ms": latencies[int(0.95 * (len(latencies) - 1))] if latencies else None,
        "max_ms": latencies[-1] if latencies else None, "wall_s": wall,
        "images_per_s": len(answered) / wall, "encoder_batches": health["batches"], "server_peak_rss_mb": rss,
        "server_options": server_options, "payload_bytes": answered[0]["bytes"] if answered else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--images", type=int, default=8, help="distinct images per client")
    parser.add_argument("--weights", type=pathlib.Path, help="whole SAM safetensors (default: random 'tiny')")
    parser.add_argument("--max-batch", type=int, default=4)
    parser.add_argument("--max-queue", type=int, default=16)
    parser.add_argument("--time-limit", type=float, default=300.0, help="seconds for the whole load")
    parser.add_argument("--json", default="benchmarks/results/service.json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        weights = args.weights or random_sam(pathlib.Path(tmp), "tiny")
        options = ["--max-batch", str(args.max_batch), "--max-queue", str(args.max_queue)]
        result = run(weights, args.clients, args.images, options, time_limit=args.time_limit)
    print(f"{'clients x images':>16} {'200':>5} {'lost':>4} {'503s':>5} {'p50 ms':>8} {'p95 ms':>8} "
          f"{'img/s':>6} {'batches':>7} {'peak RSS MB':>11}")
    print(f"{args.clients:>7} x {args.images:<6} {result['answered_200']:>5} {result['lost']:>4} "
          f"{result['responses_503']:>5} {result['p50_ms']:>8.0f} {result['p95_ms']:>8.0f} "
          f"{result['images_per_s']:>6.1f} {result['encoder_batches']:>7} {result['server_peak_rss_mb']:>11.0f}")
    write_json(args.json, {"weights": str(args.weights or "random tiny"), **result})


if __name__ == "__main__":
    main()
