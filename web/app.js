// samcore's page: the service encodes an image once (POST /v1/embeddings); the decoder runs
// here on onnxruntime-web (WASM) as samcore's two web graphs (GET /v1/models/{id}/web/*.onnx):
// the per-image graph once when the embedding arrives, the per-prompt graph for every
// prompt. Everything comes from this origin.
import * as ort from "/ort/ort.wasm.min.mjs";
import { maskAtImageSize } from "./masks.js";

// wasmPaths resolves relative to the ort module, so it must be absolute.
ort.env.wasm.wasmPaths = new URL("/ort/", location.href).href;
ort.env.wasm.numThreads = self.crossOriginIsolated ? Math.min(4, navigator.hardwareConcurrency || 1) : 1;

const DRAG_PIXELS = 5; // a press that moves further than this (screen pixels) draws a box
const COLORS = { mask: [236, 64, 122, 140], preview: [255, 193, 7, 120] };

const $ = (id) => document.getElementById(id);
const canvas = $("canvas");
const context = canvas.getContext("2d");
const overlay = document.createElement("canvas"); // the mask in its colour, composited onto the image
const overlayContext = overlay.getContext("2d");

const state = {
  model: null, // GET /v1/models entry
  imageSession: null, // ort.InferenceSession of the per-image graph
  session: null, // ort.InferenceSession of the per-prompt graph
  image: null, // ImageBitmap of the chosen image
  embedding: null, // {features: Float32Array, dims, originalSize: [H, W], inputSize: [h, w], key}
  imageFeatures: null, // the per-image graph's outputs for the embedding, by name (ort.Tensor)
  points: [], // {x, y, label} in image pixels; label 1 foreground, 0 background
  box: null, // [x0, y0, x1, y1] in image pixels
  mask: null, // Uint8Array [H * W] of the committed prompts, 1 inside
  preview: null, // Uint8Array [H * W] of the hover/drag preview
  press: null, // {x, y, screenX, screenY} while the mouse button is down
  decodes: 0, // decodes run
  version: 0, // bumped when a press ends or the mouse leaves: older previews are stale
  lastDecodeMs: null,
};

function setStatus(text, error = false) {
  $("status").textContent = text;
  $("status").classList.toggle("error", error);
}

function authHeaders() {
  const token = $("token").value || new URLSearchParams(location.hash.slice(1)).get("token");
  return token ? { Authorization: `Bearer ${token}` } : {};
}

async function fetchOk(url, options = {}) {
  const response = await fetch(url, { ...options, headers: { ...authHeaders(), ...(options.headers || {}) } });
  if (!response.ok) {
    let detail = response.statusText;
    try { detail = (await response.json()).message; } catch { /* not JSON */ }
    throw new Error(`${url}: ${response.status} ${detail}`);
  }
  return response;
}

// IEEE half -> float (the service sends float16 features by default).
function halfToFloat(bits) {
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  const sign = bits & 0x8000 ? -1 : 1;
  if (exponent === 0) return sign * 2 ** -14 * (fraction / 1024);
  if (exponent === 31) return fraction ? NaN : sign * Infinity;
  return sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
}

// An Embedding payload (safetensors: 8-byte little-endian header length, JSON header, data).
export function parseEmbedding(buffer) {
  const headerLength = Number(new DataView(buffer).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(new Uint8Array(buffer, 8, headerLength)));
  const sizes = JSON.parse(header.__metadata__["samcore.embedding"]);
  const tensor = header.features;
  const [begin, end] = tensor.data_offsets;
  const bytes = buffer.slice(8 + headerLength + begin, 8 + headerLength + end);
  let features;
  if (tensor.dtype === "F32") {
    features = new Float32Array(bytes);
  } else if (tensor.dtype === "F16") {
    const half = new Uint16Array(bytes);
    features = new Float32Array(half.length);
    for (let i = 0; i < half.length; i++) features[i] = halfToFloat(half[i]);
  } else {
    throw new Error(`embedding: expected F16 or F32 features, got ${tensor.dtype}`);
  }
  return { features, dims: tensor.shape, originalSize: sizes.original_size, inputSize: sizes.input_size };
}

async function loadDecoder() {
  const models = await (await fetchOk("/v1/models")).json();
  state.model = models.models[0];
  const [image, prompt] = await Promise.all(["image", "prompt"].map(
    async (part) => (await fetchOk(state.model.web_onnx[part])).arrayBuffer()));
  const options = { executionProviders: ["wasm"] };
  state.imageSession = await ort.InferenceSession.create(image, options);
  state.session = await ort.InferenceSession.create(prompt, options);
  setStatus(`Decoder ready (${state.model.name}, ${ort.env.wasm.numThreads} threads). Choose an image.`);
}

async function chooseImage(file) {
  setStatus("Encoding on the service...");
  const started = performance.now();
  const [image, response] = await Promise.all([
    createImageBitmap(file, { imageOrientation: "from-image" }),
    fetchOk("/v1/embeddings", { method: "POST", body: file, headers: { "Content-Type": file.type } }),
  ]);
  const embedding = parseEmbedding(await response.arrayBuffer());
  embedding.key = response.headers.get("ETag");
  await window.samcore.ready;
  const imageFeatures = await state.imageSession.run(
    { image_embedding: new ort.Tensor("float32", embedding.features, embedding.dims) });
  Object.assign(state, { image, embedding, imageFeatures, points: [], box: null, mask: null, preview: null });
  canvas.width = overlay.width = image.width;
  canvas.height = overlay.height = image.height;
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  setStatus(`Encoded ${image.width}x${image.height} in ${seconds} s (cache ${response.headers.get("X-Cache")}). `
    + "Hover, click, shift-click or drag.");
  updateButtons();
  draw();
}

// Prompts in image pixels -> the per-prompt graph's inputs: the prompts gathered as
// labelled points in the encoder's frame (as Meta's SamOnnxModel takes them)
// and the per-image features.
function feeds(points, box) {
  const [H, W] = state.embedding.originalSize;
  const [h, w] = state.embedding.inputSize;
  const coords = [];
  const labels = [];
  for (const p of points) { coords.push(p.x, p.y); labels.push(p.label); }
  if (box) {
    coords.push(box[0], box[1], box[2], box[3]);
    labels.push(2, 3);
  } else {
    coords.push(0, 0); // Meta's padding point when there is no box
    labels.push(-1);
  }
  for (let i = 0; i < coords.length; i += 2) { coords[i] *= w / W; coords[i + 1] *= h / H; } // ResizeLongestSide
  const n = labels.length;
  return {
    ...state.imageFeatures,
    point_coords: new ort.Tensor("float32", Float32Array.from(coords), [1, n, 2]),
    point_labels: new ort.Tensor("int64", BigInt64Array.from(labels, BigInt), [1, n]),
  };
}

// One decode at a time. Waiting requests: one per target ("mask": the committed prompts,
// "preview": hover or drag), the newest replacing the older; the mask goes first. A preview
// that finishes after the prompts it previewed have changed (state.version) is dropped.
let running = null;
const waiting = {};

function requestDecode(points, box, target) {
  waiting[target] = { points, box, version: state.version };
  if (!running) running = drain();
  return running;
}

async function drain() {
  await null; // let requestDecode store this promise in `running` before the loop can finish
  for (let next = waiting.mask ? "mask" : "preview"; waiting[next]; next = waiting.mask ? "mask" : "preview") {
    const { points, box, version } = waiting[next];
    delete waiting[next];
    let mask = null;
    if (points.length || box) {
      const started = performance.now();
      const output = await state.session.run(feeds(points, box));
      const lowRes = output.low_res_masks; // [1, 1, 4h, 4w] logits of the chosen mask
      const frame = [state.model.img_size, state.model.img_size];
      mask = maskAtImageSize(lowRes.data, lowRes.dims.slice(2), frame, state.embedding.inputSize,
        state.embedding.originalSize);
      state.lastDecodeMs = performance.now() - started;
      state.decodes += 1;
    }
    if (next === "mask" || version === state.version) state[next] = mask;
    draw();
  }
  running = null;
}

function draw() {
  if (!state.image) return;
  context.drawImage(state.image, 0, 0);
  const mask = state.preview || state.mask;
  if (mask) {
    // the colour (alpha a) where the mask is 1, transparent elsewhere, drawn over the image: no
    // read-back of the canvas
    const pixels = new ImageData(canvas.width, canvas.height);
    const words = new Uint32Array(pixels.data.buffer);
    const color = new Uint32Array(Uint8ClampedArray.from(state.preview ? COLORS.preview : COLORS.mask).buffer)[0];
    for (let i = 0; i < mask.length; i++) if (mask[i]) words[i] = color;
    overlayContext.putImageData(pixels, 0, 0);
    context.drawImage(overlay, 0, 0);
  }
  const scale = canvas.width / canvas.getBoundingClientRect().width || 1;
  for (const p of state.points) {
    context.beginPath();
    context.arc(p.x, p.y, 5 * scale, 0, 2 * Math.PI);
    context.fillStyle = p.label ? "#2e7d32" : "#c62828";
    context.fill();
    context.lineWidth = 1.5 * scale;
    context.strokeStyle = "#fff";
    context.stroke();
  }
  const box = dragBox() || state.box;
  if (box) {
    context.lineWidth = 2 * scale;
    context.strokeStyle = "#1565c0";
    context.strokeRect(box[0], box[1], box[2] - box[0], box[3] - box[1]);
  }
  if (state.lastDecodeMs !== null) $("timing").textContent = `Last decode: ${state.lastDecodeMs.toFixed(0)} ms.`;
}

// Mouse position in image pixels.
function imagePoint(event) {
  const rect = canvas.getBoundingClientRect();
  return {
    x: ((event.clientX - rect.left) * canvas.width) / rect.width,
    y: ((event.clientY - rect.top) * canvas.height) / rect.height,
  };
}

function dragBox(event) {
  if (!state.press || !state.press.dragging) return null;
  const end = event ? imagePoint(event) : state.press.end;
  state.press.end = end;
  const { x, y } = state.press;
  return [Math.min(x, end.x), Math.min(y, end.y), Math.max(x, end.x), Math.max(y, end.y)];
}

canvas.addEventListener("mousedown", (event) => {
  if (!state.embedding || event.button !== 0) return;
  state.press = { ...imagePoint(event), screenX: event.clientX, screenY: event.clientY, dragging: false };
});

canvas.addEventListener("mousemove", (event) => {
  if (!state.embedding || !state.session) return;
  if (state.press) {
    const moved = Math.hypot(event.clientX - state.press.screenX, event.clientY - state.press.screenY);
    state.press.dragging ||= moved > DRAG_PIXELS;
    if (state.press.dragging) requestDecode(state.points, dragBox(event), "preview");
    return;
  }
  const hover = { ...imagePoint(event), label: 1 };
  requestDecode([...state.points, hover], state.box, "preview");
});

canvas.addEventListener("mouseleave", () => {
  state.version += 1;
  state.press = null;
  state.preview = null;
  draw();
});

window.addEventListener("mouseup", (event) => {
  if (!state.press) return;
  const box = dragBox(event);
  if (box) {
    state.box = box;
  } else if (event.target === canvas) {
    state.points.push({ ...imagePoint(event), label: event.shiftKey ? 0 : 1 });
  }
  state.version += 1;
  state.press = null;
  state.preview = null;
  commit();
});

function commit() {
  updateButtons();
  return requestDecode(state.points, state.box, "mask");
}

function updateButtons() {
  const prompts = state.points.length > 0 || state.box !== null;
  $("undo").disabled = !prompts;
  $("clear").disabled = !prompts;
  $("download").disabled = !prompts;
}

$("undo").addEventListener("click", () => {
  if (state.points.length) state.points.pop();
  else state.box = null;
  commit();
});

$("clear").addEventListener("click", () => {
  Object.assign(state, { points: [], box: null, mask: null, preview: null });
  commit();
});

$("download").addEventListener("click", () => {
  if (!state.mask) return;
  const [H, W] = state.embedding.originalSize;
  const out = document.createElement("canvas");
  out.width = W;
  out.height = H;
  const outContext = out.getContext("2d");
  const image = outContext.createImageData(W, H);
  for (let i = 0; i < state.mask.length; i++) {
    const v = state.mask[i] ? 255 : 0;
    image.data.set([v, v, v, 255], 4 * i);
  }
  outContext.putImageData(image, 0, 0);
  out.toBlob((blob) => {
    const link = document.createElement("a");
    link.href = URL.createObjectURL(blob);
    link.download = "mask.png";
    link.click();
    setTimeout(() => URL.revokeObjectURL(link.href), 1000);
  }, "image/png");
});

$("file").addEventListener("change", (event) => {
  const file = event.target.files[0];
  if (file) chooseImage(file).catch((error) => setStatus(error.message, true));
});

// For tests and scripts: the page's state and a promise of the loaded decoder.
// settled(): a promise that resolves when no decode is running or waiting.
window.samcore = {
  state,
  ready: loadDecoder().catch((error) => { setStatus(error.message, true); throw error; }),
  settled: async () => { while (running) await running; },
};
