"""samcore's browser page (installed as ``samcore.web``; ``samcore serve`` serves it at ``/``).

onnxruntime-web comes from ``node_modules`` here (``npm ci``), pinned in package.json.
"""
