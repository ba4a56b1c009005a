"""web/masks.js, the page's resize of a low-res mask to the image's size: its shortcut (where all
of a pixel's source logits share a sign, the mask is filled without arithmetic) gives exactly the
mask that resizing every pixel gives, on random and adversarial logits (zeros, -0, subnormals,
near-cancelling values, checkerboards) and several image sizes. Run in Node.js
(tests/web/masks_check.mjs holds the reference and the cases)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

NODE = shutil.which("node")
CHECK = Path(__file__).resolve().parent / "web" / "masks_check.mjs"


@pytest.mark.skipif(NODE is None, reason="Node.js is not installed (apt-get install nodejs)")
def test_the_pages_resize_gives_exactly_the_mask_of_resizing_every_pixel() -> None:
    run = subprocess.run([NODE, str(CHECK)], capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode in (0, 1), run.stderr
    summary = json.loads(run.stdout)
    assert summary["differing"] == [], summary["differing"]
    assert summary["compared"] == 65 and summary["filled"] > 40, summary  # every case ran; most masks are not empty
