"""Tracing the reference or the fast formulation into a graph (ONNX IR), for every exporter.

``tracer``: ``Traced``, a symbolic NumPy array recording ONNX nodes; ``emitters``: native
nodes for the ops marked ``@graph_hook``; ``builders``: the decoder's graphs (the plain
spec behind the ``samcore`` and ``meta`` interfaces, the fast formulation's per-image and
per-prompt graphs, one static graph for phones). Needs ``onnx`` (imported by ``tracer``):
only exporters import this package, never ``samcore`` itself.
"""
