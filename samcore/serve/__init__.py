"""The embedding service: the image encoder behind HTTP, for decoders on devices and in browsers.

``create_app(encode_batch, model, settings)`` builds the ASGI app (Starlette, needs
the ``serve`` extra); ``samcore serve -w W`` runs it on uvicorn. One purpose per module:
``app`` (routes), ``service`` (cache + de-duplication + queue), ``batching`` (the
encoder's bounded batch queue), ``cache`` (memory + disk), ``images`` (upload decoding),
``errors`` (JSON errors), ``auth`` (bearer token), ``access_log`` (JSON access logs),
``web`` (the page), ``model`` (model description), ``web_graphs`` (the browser's decoder graphs),
``encoding`` (an ``Encoder`` as the batch callable), ``settings`` (limits).
"""
