// Low-res mask logits [4h, 4w] -> the mask at the image's size, with samcore.postprocess's
// resizing: bilinear up to the encoder's square frame, crop to the resized image, bilinear to
// the image's size (half-pixel centres, no antialiasing). The two resizes of each axis are
// composed into at most 3 taps per output row or column (2 adjacent frame pixels, each between
// 2 low-res pixels a quarter apart), so a click costs two thin passes.

const TAPS = 3;
const cache = new Map();

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

// One axis: low -> frame (upscale), first `crop` of the frame, -> out. Int32Array and
// Float32Array of [out, TAPS] (unused taps: index 0, weight 0).
function axisTaps(low, frame, crop, out) {
  const key = [low, frame, crop, out].join();
  if (cache.has(key)) return cache.get(key);
  const up = bilinear(low, frame);
  const down = bilinear(crop, out);
  const index = new Int32Array(out * TAPS);
  const weight = new Float32Array(out * TAPS);
  for (let o = 0; o < out; o++) {
    const combined = new Map();
    for (const [j, a] of down[o]) for (const [k, b] of up[j]) combined.set(k, (combined.get(k) || 0) + a * b);
    if (combined.size > TAPS) throw new Error(`masks: ${combined.size} taps for one pixel, expected <= ${TAPS}`);
    let t = 0;
    for (const [k, value] of combined) { index[o * TAPS + t] = k; weight[o * TAPS + t] = value; t++; }
  }
  const taps = { index, weight };
  cache.set(key, taps);
  return taps;
}

// logits: Float32Array [lowH * lowW] of one mask; frame: the encoder's input [S, S]; input:
// the resized image in it [h, w]; original: [H, W]. -> Uint8Array [H * W], 1 where logit > 0.
export function maskAtImageSize(logits, [lowH, lowW], frame, input, [H, W]) {
  const rows = axisTaps(lowH, frame[0], input[0], H);
  const cols = axisTaps(lowW, frame[1], input[1], W);
  const wide = new Float32Array(lowH * W); // the low-res rows the image's rows use, resized along x
  const used = rows.index.reduce((top, index) => Math.max(top, index), 0) + 1;
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
  for (let y = 0; y < H; y++) {
    const t = y * TAPS;
    const [r0, r1, r2] = [0, 1, 2].map((i) => rows.index[t + i] * W);
    const [w0, w1, w2] = [0, 1, 2].map((i) => rows.weight[t + i]);
    const target = y * W;
    for (let x = 0; x < W; x++) {
      mask[target + x] = w0 * wide[r0 + x] + w1 * wide[r1 + x] + w2 * wide[r2 + x] > 0 ? 1 : 0;
    }
  }
  return mask;
}
