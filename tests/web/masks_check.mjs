// web/masks.js's maskAtImageSize against the straightforward two-pass resize it replaces (each
// low-res row resized along x into float32, then the rows combined, > 0), pixel for pixel, on
// random and adversarial logits and several image sizes. Prints a JSON summary; exits 1 on a
// differing mask. Run by tests/test_web_masks.py: node tests/web/masks_check.mjs
import { axisTaps, maskAtImageSize } from "../../web/masks.js";

function reference(logits, [lowH, lowW], frame, input, [H, W]) {
  const rows = axisTaps(lowH, frame[0], input[0], H);
  const cols = axisTaps(lowW, frame[1], input[1], W);
  const wide = new Float32Array(lowH * W);
  for (let y = 0; y < lowH; y++) {
    for (let x = 0; x < W; x++) {
      let sum = 0;
      for (let t = 3 * x; t < 3 * x + 3; t++) sum += cols.weight[t] * logits[y * lowW + cols.index[t]];
      wide[y * W + x] = sum;
    }
  }
  const mask = new Uint8Array(H * W);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      let sum = 0;
      for (let t = 3 * y; t < 3 * y + 3; t++) sum += rows.weight[t] * wide[rows.index[t] * W + x];
      mask[y * W + x] = sum > 0 ? 1 : 0;
    }
  }
  return mask;
}

// A seeded generator (mulberry32) and a standard normal from it.
function random(seed) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const normal = (next) => Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next());

// Logits [n * n] by name: what a decoder gives (smooth blobs), and what stresses the shortcut.
function logitCases(n, seed) {
  const next = random(seed);
  const blobs = Array.from({ length: 6 }, () => [next() * n, next() * n, 5 + next() * n / 3, normal(next)]);
  const smooth = (y, x) => blobs.reduce((s, [cy, cx, r, v]) => s + Math.sign(v) * (r - Math.hypot(y - cy, x - cx)), 0);
  const make = (f) => Float32Array.from({ length: n * n }, (_, i) => f(i));
  return {
    "smooth blobs": make((i) => smooth(Math.floor(i / n), i % n)),
    normal: make(() => normal(next)),
    "-1, 0 and 1 (exact zeros)": make(() => Math.floor(next() * 3) - 1),
    "0 and -0 only": make(() => (next() < 0.5 ? 0 : -0)),
    "0 and 1": make(() => (next() < 0.7 ? 0 : 1)),
    "tiny subnormals, both signs": make(() => (next() < 0.5 ? 1 : -1) * 1.4e-45 * Math.floor(1 + next() * 3)),
    "one subnormal in zeros": make((i) => (i === Math.floor(n * n / 2 + n / 2) ? 1.4e-45 : 0)),
    "near cancellation": make(() => (next() < 0.5 ? 1 : -1) * (1 + Math.floor(next() * 4) * 2 ** -23)),
    "huge and tiny": make(() => (next() < 0.5 ? -1e30 : 1e-30)),
    checkerboard: make((i) => ((Math.floor(i / n) + i) % 2 ? 1 : -1)),
    "stripes of 2": make((i) => ((i >> 1) % 2 ? 2 : -3)),
    "all positive": make(() => 1e-3 + next()),
    "all zero": make(() => 0),
  };
}

// [low-res side, frame, input (h, w), original (H, W)]: the benchmark's, the browser test's,
// portrait, upscaled, odd.
const geometries = [
  [256, 1024, [683, 1024], [1200, 1800]],
  [256, 1024, [683, 1024], [300, 450]],
  [256, 1024, [1024, 768], [1024, 768]],
  [64, 256, [256, 171], [1500, 1001]],
  [64, 256, [97, 256], [37, 97]],
];
const summary = { compared: 0, differing: [], filled: 0 };
for (const [g, [low, frame, input, original]] of geometries.entries()) {
  for (const [name, logits] of Object.entries(logitCases(low, g + 1))) {
    const dims = [low, low];
    const fast = maskAtImageSize(logits, dims, [frame, frame], input, original);
    const slow = reference(logits, dims, [frame, frame], input, original);
    let differ = 0;
    for (let i = 0; i < slow.length; i++) differ += fast[i] !== slow[i];
    summary.compared += 1;
    summary.filled += slow.reduce((s, v) => s + v, 0) > 0;
    if (differ) summary.differing.push({ geometry: g, logits: name, pixels: differ });
  }
}
console.log(JSON.stringify(summary));
process.exit(summary.differing.length ? 1 : 0);
