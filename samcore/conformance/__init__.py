"""The conformance kit: what every port of the spec must pass.

Run it against any registered backend (yours included)::

    pip install "segment-anything-samcore[conformance]"
    pytest --pyargs samcore.conformance --samcore-backend NAME [--samcore-xfail known.txt]

``strategies`` draws reproducible cases, ``assertions`` reports the first
mismatches, the max difference and a snippet that reproduces a failure, and
``checks`` holds the checks as plain functions; ``encoder_checks`` the image encoder's,
for backends registered under ``samcore.encoders``. See docs/conformance.md.

Shipped files (``samcore export``'s output) are checked with ``verify_file(path, params,
config)``, the ``samcore verify FILE --weights W`` command.
"""

from samcore.conformance.verify import Verification, verify_file

__all__ = ["Verification", "verify_file"]
