"""``samcore verify``: run an exported file on the kit's prompts against the spec."""

from __future__ import annotations

import argparse

from samcore.errors import SamcoreError
from samcore.weights import load_decoder_params


class VerificationFailed(SamcoreError):
    """A shipped file computes something else than the spec."""


def _verify(args: argparse.Namespace) -> None:
    from samcore.conformance.verify import verify_file

    params, config = load_decoder_params(args.weights)
    result = verify_file(args.file, params, config)
    print(result.table())
    if not result.passed:
        failed = sum(not c.passed for c in result.cases)
        raise VerificationFailed(f"{args.file}: {failed} of {len(result.cases)} cases outside the file's "
                                 "declared tolerance of the spec")


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``verify`` to the subcommands."""
    p = sub.add_parser("verify", help="check an exported .onnx/.tflite file against the spec before shipping it")
    p.add_argument("file", help="a file that samcore export wrote")
    p.add_argument("--weights", required=True, help="the safetensors weights it was exported from")
    p.set_defaults(run=_verify)
