// Low-res mask logits [4h, 4w] -> the mask at the image's size, with samcore.postprocess's
// resizing: bilinear up to the encoder's square frame, crop to the resized image, bilinear to
// the image's size (half-pixel centres, no antialiasing). The two resizes of each axis are
// composed into at most 3 taps per output row or column (2 adjacent frame pixels, each between
// 2 low-res pixels a quarter apart), with non-negative weights summing to 1.
//
// So an output pixel is a convex combination of its source logits: where they all are > 0 the
// mask is 1, where they all are <= 0 it is 0, without arithmetic. Each low-res row the image
// uses is resized along x (a thin pass); then, per output row, the low-res columns are classed
// by the sign of the logits on the rows that output row uses, the output columns whose taps all
// fall in one class's run are filled, and only the others (near a sign change) are computed: the
// same mask as computing every pixel (for finite logits), much less work for a smooth mask.

const TAPS = 3;
const MIN_RUN = 4; // shorter runs of one sign are computed: filling them saves less than it costs
const cache = new Map();
let scratch = new Float32Array(0); // maskAtImageSize's x-resized rows, kept between calls

// Bilinear resize of one axis (inSize -> outSize, half-pixel, edges clamped): 2 taps per output.
function bilinear(inSize, outSize) {
  const taps = [];
  for (let o = 0; o < outSize; o++) {
    const source = Math.max(0, ((o + 0.5) * inSize) / outSize - 0.5);
    const i0 = Math.min(Math.floor(source), inSize - 1);
    const i1 = Math.min(i0 + 1, inSize - 1);
    const l = source - i0;
    taps.push([[i0, 1 - l], [i1, l]]);
  }
  return taps;
}

// One axis: low -> frame (upscale), first `crop` of the frame, -> out. index, weight: Int32Array
// and Float32Array [out, TAPS] (unused taps: index 0, weight 0); first, last: Int32Array [out],
// the lowest and highest index of weight > 0; start, end: Int32Array [low + 1], the first output
// whose first >= i, the first output whose last >= i (so the outputs whose weighted taps lie in
// low-res [a, b) are [start[a], end[b])).
export function axisTaps(low, frame, crop, out) {
  const key = [low, frame, crop, out].join();
  if (cache.has(key)) return cache.get(key);
  const up = bilinear(low, frame);
  const down = bilinear(crop, out);
  const index = new Int32Array(out * TAPS);
  const weight = new Float32Array(out * TAPS);
  const first = new Int32Array(out).fill(low);
  const last = new Int32Array(out).fill(-1);
  for (let o = 0; o < out; o++) {
    const combined = new Map();
    for (const [j, a] of down[o]) for (const [k, b] of up[j]) combined.set(k, (combined.get(k) || 0) + a * b);
    if (combined.size > TAPS) throw new Error(`masks: ${combined.size} taps for one pixel, expected <= ${TAPS}`);
    let t = 0;
    for (const [k, value] of combined) {
      index[o * TAPS + t] = k;
      weight[o * TAPS + t] = value;
      if (weight[o * TAPS + t] > 0) { first[o] = Math.min(first[o], k); last[o] = Math.max(last[o], k); }
      t++;
    }
  }
  const start = new Int32Array(low + 1);
  const end = new Int32Array(low + 1);
  for (let i = 0, s = 0, e = 0; i <= low; i++) {
    while (s < out && first[s] < i) s++;
    while (e < out && last[e] < i) e++;
    start[i] = s;
    end[i] = e;
  }
  const taps = { index, weight, first, last, start, end };
  cache.set(key, taps);
  return taps;
}

// The runs of low-res columns [a, b), at least MIN_RUN long, whose logits on the rows
// first..last all are > 0 (positive = 1) or all <= 0 (positive = 0): flat [a, b, positive, ...].
function uniformRuns(logits, lowW, first, last) {
  const runs = [];
  for (let j = 0, a = 0, previous = -1; j <= lowW; j++) {
    let kind = -1; // -1: mixed signs or past the end
    if (j < lowW) {
      let positive = 0;
      for (let r = first; r <= last; r++) positive += logits[r * lowW + j] > 0;
      kind = positive === last - first + 1 ? 1 : positive === 0 ? 0 : -1;
    }
    if (j === lowW || kind !== previous) {
      if (previous >= 0 && j - a >= MIN_RUN) runs.push(a, j, previous);
      [a, previous] = [j, kind];
    }
  }
  return runs;
}

// mask[target + x] for x in [from, to): the row taps (index r*, weight w*) on the x-resized rows.
// Most rows have 2 taps: a last tap of weight 0 adds nothing to a finite sum, so it is skipped.
function threshold(mask, wide, target, [r0, r1, r2], [w0, w1, w2], from, to) {
  if (w2 === 0) {
    for (let x = from; x < to; x++) mask[target + x] = w0 * wide[r0 + x] + w1 * wide[r1 + x] > 0 ? 1 : 0;
    return;
  }
  for (let x = from; x < to; x++) mask[target + x] = w0 * wide[r0 + x] + w1 * wide[r1 + x] + w2 * wide[r2 + x] > 0 ? 1 : 0;
}

// logits: Float32Array [lowH * lowW] of one mask; frame: the encoder's input [S, S]; input:
// the resized image in it [h, w]; original: [H, W]. -> Uint8Array [H * W], 1 where logit > 0.
export function maskAtImageSize(logits, [lowH, lowW], frame, input, [H, W]) {
  const rows = axisTaps(lowH, frame[0], input[0], H);
  const cols = axisTaps(lowW, frame[1], input[1], W);
  const used = rows.index.reduce((top, index) => Math.max(top, index), 0) + 1;
  if (scratch.length < used * W) scratch = new Float32Array(used * W);
  const wide = scratch; // the low-res rows the image's rows use, resized along x
  for (let y = 0; y < used; y++) {
    const source = y * lowW;
    const target = y * W;
    for (let x = 0; x < W; x++) {
      const t = x * TAPS;
      wide[target + x] = cols.weight[t] * logits[source + cols.index[t]]
        + cols.weight[t + 1] * logits[source + cols.index[t + 1]] + cols.weight[t + 2] * logits[source + cols.index[t + 2]];
    }
  }
  const mask = new Uint8Array(H * W);
  let runs = [];
  for (let y = 0; y < H; y++) {
    if (y === 0 || rows.first[y] !== rows.first[y - 1] || rows.last[y] !== rows.last[y - 1]) {
      runs = uniformRuns(logits, lowW, rows.first[y], rows.last[y]);
    }
    const t = y * TAPS;
    const index = [0, 1, 2].map((i) => rows.index[t + i] * W);
    const weight = [0, 1, 2].map((i) => rows.weight[t + i]);
    const target = y * W;
    let x = 0; // the output columns before x are done
    for (let k = 0; k < runs.length; k += 3) {
      const [start, end] = [cols.start[runs[k]], cols.end[runs[k + 1]]];
      if (start >= end) continue;
      threshold(mask, wide, target, index, weight, x, start);
      if (runs[k + 2]) mask.fill(1, target + start, target + end);
      x = end;
    }
    threshold(mask, wide, target, index, weight, x, W);
  }
  return mask;
}
