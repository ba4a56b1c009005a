"""Transitional re-export: Meta's modules now live in samcore.conformance.official."""

from samcore.conformance.official import amg, build_official_sam, modeling, onnx_utils, transforms  # noqa: F401
