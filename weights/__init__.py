"""What ships with samcore: the checkpoint manifest and the bundled default decoder.

Installed as the package ``samcore.bundled`` (see pyproject.toml); read it with
``samcore.weights.bundled_path``.
"""
