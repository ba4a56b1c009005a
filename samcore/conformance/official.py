"""Meta's official segment-anything (the ground truth), loaded without its package __init__.

Needs ``torch`` and ``segment-anything`` (the ``test`` extra); samcore itself never
imports this module.

`segment_anything/__init__.py` imports torchvision (through the automatic mask
generator), which cannot be installed beside the CPU torch here; its modeling and
utils submodules need only torch, so we import them under a stub parent package.
Its image resize (``ResizeLongestSide.apply_image``, used by ``SamPredictor``) calls
two torchvision functions on PIL images; without torchvision a minimal stub of the
two stands in (`_torchvision_stub`).
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import io
import sys
import types
from collections.abc import Callable

import numpy as np
import torch

from samcore.config import DecoderConfig, EncoderConfig


def _import(name: str) -> types.ModuleType:
    if "segment_anything" not in sys.modules:
        spec = importlib.util.find_spec("segment_anything")
        if spec is None or spec.submodule_search_locations is None:
            raise ImportError("segment-anything is not installed")
        stub = types.ModuleType("segment_anything")
        stub.__path__ = list(spec.submodule_search_locations)
        sys.modules["segment_anything"] = stub
    return importlib.import_module(name)


def _torchvision_stub() -> None:
    """A minimal ``torchvision.transforms.functional`` for Meta's ``ResizeLongestSide.apply_image``
    (torchvision cannot be installed beside the CPU torch here), doing what torchvision
    does on these inputs: ``to_pil_image`` of a uint8 [H, W, 3] array is ``Image.fromarray``
    (mode RGB), and ``resize(pil_image, [h, w])`` is Pillow's ``resize((w, h), BILINEAR)``
    (torchvision's default interpolation; Pillow always antialiases). Other inputs are refused."""
    from PIL import Image

    def to_pil_image(pic):
        if not (isinstance(pic, np.ndarray) and pic.dtype == np.uint8 and pic.ndim == 3 and pic.shape[2] == 3):
            raise NotImplementedError("torchvision stub: to_pil_image takes a uint8 [H, W, 3] array only")
        return Image.fromarray(pic)

    def resize(img, size):
        if not (isinstance(img, Image.Image) and len(size) == 2):
            raise NotImplementedError("torchvision stub: resize takes a PIL image and [h, w] only")
        return img.resize((int(size[1]), int(size[0])), Image.Resampling.BILINEAR)

    functional = types.ModuleType("torchvision.transforms.functional")
    functional.resize, functional.to_pil_image = resize, to_pil_image
    for name in ("torchvision", "torchvision.transforms"):
        sys.modules.setdefault(name, types.ModuleType(name))
    sys.modules["torchvision.transforms.functional"] = functional


modeling = _import("segment_anything.modeling")
onnx_utils = _import("segment_anything.utils.onnx")
amg = _import("segment_anything.utils.amg")
if importlib.util.find_spec("torchvision") is None:
    _torchvision_stub()
transforms = _import("segment_anything.utils.transforms")
predictor = _import("segment_anything.predictor")


def build_official_sam(
    config: DecoderConfig, grid: int, params: dict[str, np.ndarray], image_encoder: torch.nn.Module | None = None
) -> torch.nn.Module:
    """Meta's ``Sam`` with the decoder ``params`` loaded and ``image_encoder``, by default a
    tiny seeded ViT (one block, width 32), so its state_dict has every part a real one has."""
    frame = config.frame_size((grid, grid))
    if image_encoder is None:
        torch.manual_seed(0)
        image_encoder = modeling.ImageEncoderViT(
            img_size=frame[0], patch_size=frame[0] // grid, embed_dim=32, depth=1, num_heads=2,
            out_chans=config.embed_dim,
        )
    prompt_encoder = modeling.PromptEncoder(
        embed_dim=config.embed_dim,
        image_embedding_size=(grid, grid),
        input_image_size=frame,
        mask_in_chans=config.mask_in_chans,
    )
    mask_decoder = modeling.MaskDecoder(
        num_multimask_outputs=config.num_mask_tokens - 1,
        transformer=modeling.TwoWayTransformer(
            depth=config.depth,
            embedding_dim=config.embed_dim,
            mlp_dim=config.mlp_dim,
            num_heads=config.num_heads,
            attention_downsample_rate=config.attention_downsample_rate,
        ),
        transformer_dim=config.embed_dim,
        iou_head_depth=config.iou_head_depth,
        iou_head_hidden_dim=config.iou_head_hidden_dim,
    )
    sam = modeling.Sam(image_encoder, prompt_encoder, mask_decoder)
    state = {k: torch.from_numpy(v.copy()) for k, v in params.items()}
    missing, unexpected = sam.load_state_dict(state, strict=False)
    if unexpected or [k for k in missing if not k.startswith("image_encoder.")]:
        raise AssertionError(f"official modules disagree with samcore's layout: {missing=} {unexpected=}")
    return sam.eval()


def build_official_image_encoder(config: EncoderConfig, params: dict[str, np.ndarray]) -> torch.nn.Module:
    """Meta's ``ImageEncoderViT`` for ``config`` with ``params`` (``image_encoder.*``) loaded.

    A relative-position table stored at another length than the config's is installed
    at that length, as a checkpoint trained at another size would be: Meta's
    ``get_rel_pos`` then interpolates it at run time.
    """
    encoder = modeling.ImageEncoderViT(
        img_size=config.img_size, patch_size=config.patch_size, embed_dim=config.embed_dim, depth=config.depth,
        num_heads=config.num_heads, mlp_ratio=config.mlp_ratio, out_chans=config.out_chans, qkv_bias=True,
        norm_layer=functools.partial(torch.nn.LayerNorm, eps=1e-6), use_rel_pos=config.use_rel_pos,
        window_size=config.window_size, global_attn_indexes=config.global_attn_indexes,
    )
    state = {k.removeprefix("image_encoder."): torch.from_numpy(v.copy()) for k, v in params.items()}
    for name, value in state.items():
        if name.endswith((".rel_pos_h", ".rel_pos_w")):
            module_name, attribute = name.rsplit(".", 1)
            setattr(encoder.get_submodule(module_name), attribute, torch.nn.Parameter(torch.zeros_like(value)))
    encoder.load_state_dict(state, strict=True)
    return encoder.eval()


def build_official_predictor(encoder_config: EncoderConfig, config: DecoderConfig, params: dict[str, np.ndarray]):
    """Meta's ``SamPredictor`` on a ``Sam`` with the image encoder and decoder of ``params``."""
    encoder_params = {k: v for k, v in params.items() if k.startswith("image_encoder.")}
    image_encoder = build_official_image_encoder(encoder_config, encoder_params)
    sam = build_official_sam(config, encoder_config.grid_size, params, image_encoder)
    return predictor.SamPredictor(sam)


def official_torch_runner(sam) -> Callable[[np.ndarray, np.ndarray, np.ndarray], None]:
    """Decode with Meta's modules: (embedding, coords [B, N, 2] incl. padding, labels)."""
    dense_pe = sam.prompt_encoder.get_dense_pe()

    def run(embedding, coords, labels):
        with torch.inference_mode():
            points = (torch.from_numpy(coords), torch.from_numpy(labels))
            sparse, dense = sam.prompt_encoder(points=points, boxes=None, masks=None)
            sam.mask_decoder(torch.from_numpy(embedding), dense_pe, sparse, dense, True)

    return run


def official_onnx_runner(sam, threads: int) -> Callable[[np.ndarray, np.ndarray, np.ndarray], None]:
    """Meta's SamOnnxModel exported as Meta's script does (legacy exporter, opset 17,
    dynamic number of points, 3 masks), without its resize to the original image size,
    run in onnxruntime on the CPU. One prompt per call, as the export takes."""
    import onnxruntime

    class DecoderOnly(onnx_utils.SamOnnxModel):
        def mask_postprocessing(self, masks, orig_im_size):
            return masks

    model = DecoderOnly(sam, return_single_mask=False)
    c, grid = sam.prompt_encoder.embed_dim, sam.prompt_encoder.image_embedding_size[0]
    inputs = {
        "image_embeddings": torch.randn(1, c, grid, grid),
        "point_coords": torch.randint(0, 1024, (1, 5, 2), dtype=torch.float),
        "point_labels": torch.randint(0, 4, (1, 5), dtype=torch.float),
        "mask_input": torch.randn(1, 1, 4 * grid, 4 * grid),
        "has_mask_input": torch.tensor([1.0]),
        "orig_im_size": torch.tensor([1500.0, 2250.0]),
    }
    buffer = io.BytesIO()
    torch.onnx.export(
        model, tuple(inputs.values()), buffer, input_names=list(inputs), opset_version=17, dynamo=False,
        output_names=["masks", "iou_predictions", "low_res_masks"],
        dynamic_axes={"point_coords": {1: "num_points"}, "point_labels": {1: "num_points"}},
    )
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    session = onnxruntime.InferenceSession(buffer.getvalue(), options, providers=["CPUExecutionProvider"])
    grid_mask = np.zeros((1, 1, 4 * grid, 4 * grid), np.float32)
    fixed = {"mask_input": grid_mask, "has_mask_input": np.zeros(1, np.float32)}
    used = {i.name for i in session.get_inputs()}  # the exporter drops the unused orig_im_size

    def run(embedding, coords, labels):
        for i in range(coords.shape[0]):
            feed = fixed | {
                "image_embeddings": embedding,
                "point_coords": coords[i : i + 1],
                "point_labels": labels[i : i + 1].astype(np.float32),
            }
            session.run(None, {k: v for k, v in feed.items() if k in used})

    return run
