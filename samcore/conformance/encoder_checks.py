"""The checks every image encoder backend must pass, as plain functions of a backend name.

Error bound: max |port - spec| <= ``tolerances[dtype]`` x RMS(spec embedding). The deep
stack accumulates rounding in proportion to the activations' scale, so an elementwise
bound relative to each value would be wrong for values near zero.
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np

from samcore.encoder import Encoder
from samcore.encoder_config import ENCODER_PRESETS, IMAGE_ENCODER, EncoderConfig
from samcore.random_weights import random_encoder_params
from samcore.spec.image_encoder import image_encoder

#: Seed of each config's random weights (``random_encoder_params``).
ENCODER_WEIGHTS_SEED = 11


@dataclasses.dataclass(frozen=True)
class EncoderCase:
    """A config and how its weights differ from ``encoder_shapes``: relative-position
    tables stored at other lengths (key suffix -> length), interpolated at run time."""

    config: EncoderConfig
    rel_pos_lengths: tuple[tuple[str, int], ...] = ()


#: Encoder configurations the kit runs. "windowed": an 80-pixel frame (10 x 10 grid) in
#: 4 x 4 windows, so windows are padded; "resized": 12 x 12 grid, 5 x 5 windows,
#: relative-position tables stored at other lengths (one shorter, one longer than used);
#: "global": every block global, no relative positions; "vit_b": the official size.
ENCODER_CASES: dict[str, EncoderCase] = {
    "windowed": EncoderCase(EncoderConfig(img_size=80, patch_size=8, embed_dim=32, depth=3, num_heads=2,
                                          window_size=4, global_attn_indexes=(1,), out_chans=16)),
    "resized": EncoderCase(
        EncoderConfig(img_size=96, patch_size=8, embed_dim=48, depth=4, num_heads=3, window_size=5,
                      global_attn_indexes=(1, 3), out_chans=24),
        (("blocks.0.attn.rel_pos_h", 13), ("blocks.1.attn.rel_pos_w", 15), ("blocks.2.attn.rel_pos_h", 11),
         ("blocks.2.attn.rel_pos_w", 5)),
    ),
    "global": EncoderCase(EncoderConfig(img_size=64, patch_size=16, embed_dim=64, depth=2, num_heads=4,
                                        mlp_ratio=2.0, window_size=0, global_attn_indexes=(), use_rel_pos=False,
                                        out_chans=32)),
    "vit_b": EncoderCase(ENCODER_PRESETS["sam_vit_b"]),
}


@functools.cache
def encoder_case_params(name: str) -> dict[str, np.ndarray]:
    """The kit's seeded weights for ``ENCODER_CASES[name]`` (official key -> float32)."""
    case = ENCODER_CASES[name]
    params = random_encoder_params(case.config, ENCODER_WEIGHTS_SEED)
    rng = np.random.default_rng(ENCODER_WEIGHTS_SEED)
    for suffix, length in case.rel_pos_lengths:
        key = IMAGE_ENCODER + suffix
        params[key] = (0.2 * rng.standard_normal((length, params[key].shape[1]))).astype(np.float32)
    return params


def encoder_case_images(name: str, batch: int, seed: int) -> np.ndarray:
    """Preprocessed-looking images float32 [batch, 3, S, S]: unit normal inside a
    non-square image region, zero padding below and right of it (as after preprocessing)."""
    size = ENCODER_CASES[name].config.img_size
    rng = np.random.default_rng(seed)
    images = np.zeros((batch, 3, size, size), np.float32)
    h, w = size - 1 - size // 4, size
    images[:, :, :h, :w] = rng.standard_normal((batch, 3, h, w))
    return images


@functools.cache
def encoder(backend: str, name: str, dtype: str = "float32") -> Encoder:
    """An Encoder of ``backend`` with the kit's weights for ``ENCODER_CASES[name]``."""
    return Encoder(encoder_case_params(name), ENCODER_CASES[name].config, backend=backend, dtype=dtype)


def embedding_error(port: np.ndarray, spec: np.ndarray) -> float:
    """max |port - spec| / RMS(spec): the kit's error measure for embeddings."""
    rms = float(np.sqrt(np.mean(np.square(spec, dtype=np.float64))))
    return float(np.abs(port.astype(np.float64) - spec).max()) / rms


def _snippet(backend: str, name: str, batch: int, seed: int, dtype: str) -> str:
    return (
        "from samcore.conformance.encoder_checks import encoder, encoder_case_images, encoder_case_params, "
        "ENCODER_CASES\nfrom samcore.spec.image_encoder import image_encoder\n"
        f"images = encoder_case_images({name!r}, {batch}, {seed})\n"
        f"port = encoder({backend!r}, {name!r}, {dtype!r}).encode_images(images)\n"
        f"spec = image_encoder(encoder_case_params({name!r}), images, ENCODER_CASES[{name!r}].config)\n"
    )


def check_encoder_matches_spec(backend: str, name: str, dtype: str = "float32", batch: int = 2,
                               seed: int = 0) -> float:
    """The port's embedding of ``batch`` images within its declared tolerance x RMS of the
    spec's. Returns the error (``embedding_error``)."""
    port = encoder(backend, name, dtype)
    images = encoder_case_images(name, batch, seed)
    got = port.encode_images(images)
    spec = image_encoder(encoder_case_params(name), images, port.config)
    if got.shape != spec.shape or got.dtype != np.float32:
        raise AssertionError(f"embedding: expected float32 {list(spec.shape)}, got {got.dtype} {list(got.shape)}\n"
                             + _snippet(backend, name, batch, seed, dtype))
    error, bound = embedding_error(got, spec), port.backend.tolerances[dtype]
    if not error <= bound:  # NaN fails
        worst = np.unravel_index(np.nanargmax(np.abs(got - spec)), spec.shape)
        raise AssertionError(
            f"embedding: max |port - spec| is {error:.3g} x RMS(spec), more than the declared {bound:g} "
            f"(worst at {list(map(int, worst))}: port {got[worst]:.7g}, spec {spec[worst]:.7g})\nreproduce with:\n"
            + _snippet(backend, name, batch, seed, dtype)
        )
    return error


def check_encoder_batch_independence(backend: str, name: str, seed: int = 1) -> None:
    """Encoding 2 images at once equals encoding each alone (within the float32 tolerance)."""
    port = encoder(backend, name)
    images = encoder_case_images(name, 2, seed)
    together = port.encode_images(images)
    for i in range(2):
        alone = port.encode_images(images[i : i + 1])
        error = embedding_error(together[i : i + 1], alone)
        if not error <= port.backend.tolerances["float32"]:
            raise AssertionError(f"image {i} of a batch of 2 differs from the image alone by {error:.3g} x RMS\n"
                                 + _snippet(backend, name, 2, seed, "float32"))


def check_encoder_deterministic(backend: str, name: str) -> None:
    """The same images twice give bit-identical embeddings."""
    port = encoder(backend, name)
    images = encoder_case_images(name, 1, 2)
    if not np.array_equal(port.encode_images(images), port.encode_images(images)):
        raise AssertionError("embedding differs between two identical calls\n"
                             + _snippet(backend, name, 1, 2, "float32"))


#: The kit's bad constructions of an encoder backend: name -> (make (params -> params, dtype), what the error names).
_ENCODER_KEY = f"{IMAGE_ENCODER}patch_embed.proj.weight"
BAD_ENCODER_CONSTRUCTIONS = {
    "undeclared dtype": (lambda params: (params, "float64"), "dtype"),
    "missing parameter": (lambda params: ({k: v for k, v in params.items() if k != _ENCODER_KEY}, "float32"),
                          _ENCODER_KEY),
    "mis-shaped parameter": (lambda params: ({**params, _ENCODER_KEY: params[_ENCODER_KEY][:-1]}, "float32"),
                             _ENCODER_KEY),
}


def check_encoder_refuses_bad_construction(backend: str, bad: str) -> None:
    """The encoder backend class, constructed with ``BAD_ENCODER_CONSTRUCTIONS[bad]``, raises a
    ``SamcoreError`` naming the problem, as decoder backends must (``checks.expect_refusal``)."""
    from samcore.conformance.checks import expect_refusal
    from samcore.registry import ENCODERS

    make, named = BAD_ENCODER_CONSTRUCTIONS[bad]
    params, dtype = make(encoder_case_params("windowed"))
    config = ENCODER_CASES["windowed"].config
    expect_refusal(ENCODERS.get(backend), params, config, dtype, f"{backend} encoder: {bad}", named)
