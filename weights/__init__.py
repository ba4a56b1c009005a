"""What ships with samcore: the checkpoint manifest, the default model (a small SAM trained on
synthetic shapes), a seeded random decoder for tests, and an example picture with its prompts.

Installed as the package ``samcore.bundled`` (see pyproject.toml); read it with
``samcore.weights.bundled_path``.
"""
