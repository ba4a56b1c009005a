// benchmarks/web.py's page: times decoders in onnxruntime-web (WASM) on one embedding and the
// same clicks. Variants load one after another (load time), then every round runs each
// variant over every click in turn, so that all share the machine's load alike.
import * as ort from "/ort/ort.wasm.min.mjs";
import { maskAtImageSize } from "/masks.js";

// A failure ends the run at once (benchmarks/web.py waits for the result or this title).
for (const event of ["error", "unhandledrejection"]) addEventListener(event, () => { document.title = "error"; });

const config = await (await fetch("/config.json")).json();
ort.env.wasm.wasmPaths = new URL("/ort/", location.href).href;
ort.env.wasm.numThreads = config.threads;
const embedding = new ort.Tensor("float32", new Float32Array(await (await fetch("/embedding.bin")).arrayBuffer()),
  config.dims);
const [H, W] = config.original;
const size = new ort.Tensor("float32", new Float32Array([H, W]), [2]);
const [gh, gw] = config.dims.slice(2);
const noMask = new ort.Tensor("float32", new Float32Array(16 * gh * gw), [1, 1, 4 * gh, 4 * gw]);

// One click (x, y in the encoder's frame) and the padding point, as the page gathers them.
function feeds(variant, [x, y]) {
  const coords = new ort.Tensor("float32", new Float32Array([x, y, 0, 0]), [1, 2, 2]);
  if (variant.kind === "samcore") {
    return { ...variant.features, point_coords: coords,
      point_labels: new ort.Tensor("int64", BigInt64Array.from([1n, -1n]), [1, 2]) };
  }
  return { image_embeddings: embedding, point_coords: coords, mask_input: noMask, orig_im_size: size,
    point_labels: new ort.Tensor("float32", new Float32Array([1, -1]), [1, 2]),
    has_mask_input: new ort.Tensor("float32", new Float32Array([0]), [1]) };
}

// A click: decode, then the mask at the image's size (logits > 0), as the page overlays it:
// samcore's low-res mask resized by the page's masks.js, Meta's resized in its graph.
async function click(variant, point) {
  const started = performance.now();
  const output = await variant.prompt.run(feeds(variant, point));
  const decoded = performance.now();
  let mask;
  if (variant.kind === "samcore") {
    const lowRes = output.low_res_masks;
    mask = maskAtImageSize(lowRes.data, lowRes.dims.slice(2), config.frame, config.input, config.original);
  } else {
    const logits = output.masks.data;
    mask = new Uint8Array(logits.length);
    for (let i = 0; i < logits.length; i++) mask[i] = logits[i] > 0 ? 1 : 0;
  }
  return [performance.now() - started, decoded - started, mask];
}

function packBase64(mask) {
  const bytes = new Uint8Array(Math.ceil(mask.length / 8));
  for (let i = 0; i < mask.length; i++) if (mask[i]) bytes[i >> 3] |= 128 >> (i & 7);
  let text = "";
  for (let i = 0; i < bytes.length; i += 8192) text += String.fromCharCode(...bytes.subarray(i, i + 8192));
  return btoa(text);
}

const options = { executionProviders: ["wasm"] };
const results = [];
const variants = [];
for (const spec of config.variants) {
  const started = performance.now();
  const buffers = await Promise.all(spec.files.map(async (file) => (await fetch(file)).arrayBuffer()));
  const sessions = [];
  for (const buffer of buffers) sessions.push(await ort.InferenceSession.create(buffer, options));
  const variant = { ...spec, prompt: sessions[sessions.length - 1], features: null };
  const result = { name: spec.name, bytes: buffers.reduce((n, b) => n + b.byteLength, 0),
    load_ms: performance.now() - started, image_ms: null, click_ms: [], decode_ms: [], masks: [] };
  // The first click after the embedding arrives: the per-image graph (samcore) and one decode.
  const first = performance.now();
  if (spec.kind === "samcore") {
    variant.features = await sessions[0].run({ image_embedding: embedding });
    result.image_ms = performance.now() - first;
  }
  await click(variant, config.clicks[0]);
  result.first_click_ms = performance.now() - first;
  variants.push(variant);
  results.push(result);
}
for (let round = 0; round < config.rounds; round++) {
  for (const [i, point] of config.clicks.entries()) {
    for (const [v, variant] of variants.entries()) {
      const [ms, decodeMs, mask] = await click(variant, point);
      results[v].click_ms.push(ms);
      results[v].decode_ms.push(decodeMs);
      if (round === 0) results[v].masks.push(packBase64(mask));
    }
  }
}
// The page's resize alone (median ms of 20): on the first samcore variant's low-res mask of the
// first click (random weights: a noisy mask) and on a smooth one (a disc, as trained weights give).
function resizeMs(logits, dims) {
  const times = [];
  for (let i = 0; i < 20; i++) {
    const started = performance.now();
    maskAtImageSize(logits, dims, config.frame, config.input, config.original);
    times.push(performance.now() - started);
  }
  return times.sort((a, b) => a - b)[10];
}
const samcore = variants.find((variant) => variant.kind === "samcore");
const lowRes = (await samcore.prompt.run(feeds(samcore, config.clicks[0]))).low_res_masks;
const [lowH, lowW] = lowRes.dims.slice(2);
const disc = Float32Array.from({ length: lowH * lowW }, (_, i) => 60 - Math.hypot(Math.floor(i / lowW) - 100, (i % lowW) - 128));
const resize = { decoder_mask_ms: resizeMs(lowRes.data, [lowH, lowW]), smooth_mask_ms: resizeMs(disc, [lowH, lowW]) };
window.benchmark = { threads: ort.env.wasm.numThreads, isolated: self.crossOriginIsolated, results, resize };
document.getElementById("log").textContent = "done";
