"""The embedding service in process (Starlette's TestClient, httpx's ASGI transport), on the real
Encoder of a small full SAM model with seeded random weights."""

from __future__ import annotations

import asyncio
import json
import logging
import struct
import threading
import zlib

import numpy as np
import pytest

pytest.importorskip("starlette")
pytest.importorskip("httpx")
pytest.importorskip("PIL")

import httpx
from serve_helpers import encode_file, picture, write_small_sam
from starlette.testclient import TestClient

from samcore.content_key import content_key
from samcore.embedding import Embedding
from samcore.encoder import Encoder
from samcore.serve.app import PAYLOAD_TYPE, create_app
from samcore.serve.encoding import batch_encoder, describe_model
from samcore.serve.settings import ServiceSettings

PNG = {"Content-Type": "image/png"}


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    return write_small_sam(tmp_path_factory.mktemp("model") / "small_sam.safetensors")


@pytest.fixture(scope="module")
def encoder(weights) -> Encoder:
    return Encoder.from_weights(weights, backend="numpy")


@pytest.fixture(scope="module")
def model(encoder, weights):
    return describe_model(encoder, weights)


def client(encoder, model, encode_batch=None, **settings) -> TestClient:
    app = create_app(encode_batch or batch_encoder(encoder), model, ServiceSettings(**settings))
    return TestClient(app, raise_server_exceptions=False)


def test_post_returns_the_encoders_embedding_by_content_key(encoder, model) -> None:
    image = picture()
    data = encode_file(image)
    with client(encoder, model) as c:
        r = c.post("/v1/embeddings", content=data, headers=PNG)
        assert r.status_code == 200, r.text
        assert r.headers["content-type"] == PAYLOAD_TYPE and r.headers["x-cache"] == "miss"
        key = content_key(data, model.sha256, model.preprocessing)
        assert r.headers["etag"] == f'"{key}"' and r.headers["location"] == f"/v1/embeddings/{key}"
        served = Embedding.from_bytes(r.content)
        expected = encoder.encode(image)
        assert served.original_size == (96, 128) and served.input_size == expected.input_size
        assert served.model_id == model.sha256
        # float16 by default: the encoder's features rounded to half precision.
        np.testing.assert_array_equal(served.features, expected.features.astype(np.float16).astype(np.float32))

        full = c.get(f"/v1/embeddings/{key}", params={"dtype": "float32"})
        assert full.status_code == 200 and full.headers["x-cache"] == "hit"
        np.testing.assert_array_equal(Embedding.from_bytes(full.content).features, expected.features)
        assert len(full.content) > 1.9 * len(r.content)

        again = c.post("/v1/embeddings", content=data, headers=PNG)
        assert again.headers["x-cache"] == "hit" and again.content == r.content
        assert c.get(f"/v1/embeddings/{key}", headers={"If-None-Match": f'"{key}"'}).status_code == 304
        assert c.get("/healthz").json()["batches"] == 1  # encoded once


def test_models_healthz_and_the_browser_decoder_graphs(encoder, model, cache_folder) -> None:
    onnx = pytest.importorskip("onnx")
    with client(encoder, model) as c:
        described = c.get("/v1/models").json()["models"][0]
        assert described["id"] == model.sha256 and described["grid"] == [16, 16]
        assert described["img_size"] == 256 and described["preprocessing"] == model.preprocessing
        health = c.get("/healthz").json()
        assert health["status"] == "ok" and health["queue_waiting"] == 0
        web = described["web_onnx"]
        for part, interface in (("image", "web_image"), ("prompt", "web_prompt")):
            r = c.get(web[part])
            assert r.status_code == 200
            graph = onnx.load_from_string(r.content)
            props = {p.key: p.value for p in graph.metadata_props}
            assert props["samcore.interface"] == interface and props["samcore.grid"] == "16x16"
            assert r.headers["etag"].strip('"').endswith(part)
        assert len(list(cache_folder.glob(f"web-{model.sha256}-*.onnx"))) == 2  # exported once, kept
        assert c.get(f"/v1/models/{'0' * 64}/web/image.onnx").status_code == 404
        assert c.get(f"/v1/models/{model.sha256}/web/decoder.onnx").status_code == 404
        page = c.get("/")
        assert page.status_code == 200 and "app.js" in page.text
        assert page.headers["cross-origin-embedder-policy"] == "require-corp"
        assert page.headers["cross-origin-opener-policy"] == "same-origin"


@pytest.mark.parametrize(
    ("body", "headers", "status", "code"),
    [
        (b"plain text, not an image", PNG, 400, "not_an_image"),
        (encode_file(picture())[:300], PNG, 400, "truncated_image"),
        (encode_file(picture()), {"Content-Type": "text/plain"}, 415, "unsupported_media_type"),
        (encode_file(picture(), "GIF"), {"Content-Type": "image/gif"}, 415, "unsupported_media_type"),
        (encode_file(picture(), "GIF"), PNG, 400, "not_an_image"),
        (b"", PNG, 400, "empty_body"),
        (encode_file(np.zeros((400, 300, 3), np.uint8)), PNG, 413, "too_many_pixels"),
        (b"\0" * 300_000, PNG, 413, "body_too_large"),
    ],
    ids=["not-image", "truncated", "text-type", "gif-type", "gif-as-png", "empty", "too-many-pixels", "too-big"],
)
def test_bad_uploads_get_a_4xx_json_and_the_service_stays_up(encoder, model, body, headers, status, code) -> None:
    with client(encoder, model, max_pixels=100_000, max_body_bytes=200_000) as c:
        r = c.post("/v1/embeddings", content=body, headers=headers)
        assert (r.status_code, r.json()["error"]) == (status, code), r.text
        assert r.json()["message"]
        assert c.post("/v1/embeddings", content=encode_file(picture()), headers=PNG).status_code == 200


def png_header(width: int, height: int) -> bytes:
    """A PNG that says it is width x height RGB but holds one compressed row (a few dozen bytes)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    row = zlib.compress(b"\0" * (1 + 3 * width))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", row) + chunk(b"IEND", b"")


@pytest.mark.parametrize("side", [5_000, 100_000], ids=["over-our-limit", "over-pillows-limit"])
def test_a_decompression_bomb_is_refused_from_its_header(encoder, model, side) -> None:
    # A few dozen bytes that claim side x side pixels: refused before any pixel is decoded.
    with client(encoder, model, max_pixels=1_000_000) as c:
        r = c.post("/v1/embeddings", content=png_header(side, side), headers=PNG)
        assert r.status_code == 413 and r.json()["error"] == "too_many_pixels", r.text


def test_bad_dtype_and_unknown_key(encoder, model) -> None:
    with client(encoder, model) as c:
        r = c.post("/v1/embeddings?dtype=int8", content=encode_file(picture()), headers=PNG)
        assert r.status_code == 400 and r.json()["error"] == "bad_dtype"
        assert c.get(f"/v1/embeddings/{'a' * 64}").status_code == 404
        assert c.get("/v1/embeddings/not-a-key").json()["error"] == "not_found"


def test_token(encoder, model) -> None:
    with client(encoder, model, token="s3cret") as c:
        data = encode_file(picture())
        for headers in ({}, {"Authorization": "Bearer wrong"}):
            r = c.post("/v1/embeddings", content=data, headers=PNG | headers)
            assert r.status_code == 401 and r.json()["error"] == "unauthorized"
            assert r.headers["www-authenticate"] == "Bearer"
        assert c.get("/v1/models").status_code == 401
        assert c.get("/healthz").status_code == 200 and c.get("/").status_code == 200
        ok = c.post("/v1/embeddings", content=data, headers=PNG | {"Authorization": "Bearer s3cret"})
        assert ok.status_code == 200


def test_an_encoder_exception_is_a_500_json_and_the_next_request_works(encoder, model) -> None:
    real, calls = batch_encoder(encoder), []

    def fails_once(images):
        calls.append(len(images))
        if len(calls) == 1:
            raise RuntimeError("out of device memory")
        return real(images)

    with client(encoder, model, encode_batch=fails_once) as c:
        data = encode_file(picture())
        r = c.post("/v1/embeddings", content=data, headers=PNG)
        assert r.status_code == 500 and r.json()["error"] == "encoder_failed"
        assert "out of device memory" in r.json()["message"]
        r = c.post("/v1/embeddings", content=data, headers=PNG)
        assert r.status_code == 200 and r.headers["x-cache"] == "miss"


async def _with_app(app, work):
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://service") as c:
            return await work(c)


def test_concurrent_images_are_batched_and_a_full_queue_answers_503(encoder, model) -> None:
    real, release, sizes = batch_encoder(encoder), threading.Event(), []

    def held(images):  # the first batch waits until every request has been made
        sizes.append(len(images))
        release.wait(30)
        return real(images)

    app = create_app(held, model, ServiceSettings(max_batch=2, max_wait_ms=200, max_queue=2))
    files = [encode_file(picture(seed=i)) for i in range(8)]

    async def work(c):
        tasks = [asyncio.create_task(c.post("/v1/embeddings", content=f, headers=PNG)) for f in files]
        await asyncio.sleep(1.0)  # all arrive: one batch of 2 held, 2 waiting, the rest refused
        release.set()
        return await asyncio.gather(*tasks)

    answers = asyncio.run(_with_app(app, work))
    codes = sorted(r.status_code for r in answers)
    assert codes == [200] * 4 + [503] * 4, codes
    assert all(r.headers["retry-after"] == "1" and r.json()["error"] == "overloaded"
               for r in answers if r.status_code == 503)
    assert sizes == [2, 2]


def test_the_same_image_at_once_is_encoded_once(encoder, model) -> None:
    real, sizes = batch_encoder(encoder), []

    def counted(images):
        sizes.append(len(images))
        return real(images)

    app = create_app(counted, model, ServiceSettings(max_batch=4, max_wait_ms=50))
    data = encode_file(picture())

    async def work(c):
        return await asyncio.gather(*[c.post("/v1/embeddings", content=data, headers=PNG) for _ in range(5)])

    answers = asyncio.run(_with_app(app, work))
    assert [r.status_code for r in answers] == [200] * 5 and sizes == [1]
    assert len({r.content for r in answers}) == 1


def test_a_client_leaving_mid_upload_is_logged_499_and_the_next_request_works(encoder, model, caplog) -> None:
    app = create_app(batch_encoder(encoder), model, ServiceSettings())
    data = encode_file(picture())
    sent: list[dict] = []

    async def work(c):
        messages = iter([{"type": "http.request", "body": data[:100], "more_body": True},
                         {"type": "http.disconnect"}])

        async def receive():
            return next(messages)

        async def send(message):
            sent.append(message)

        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
                 "scheme": "http", "path": "/v1/embeddings", "raw_path": b"/v1/embeddings", "query_string": b"",
                 "root_path": "", "headers": [(b"content-type", b"image/png"),
                                              (b"content-length", str(len(data)).encode())],
                 "client": ("127.0.0.1", 5000), "server": ("service", 80)}
        await app(scope, receive, send)
        return await c.post("/v1/embeddings", content=data, headers=PNG)

    with caplog.at_level(logging.INFO, logger="samcore.serve.access"):
        after = asyncio.run(_with_app(app, work))
    assert after.status_code == 200
    records = [json.loads(r.getMessage()) for r in caplog.records if r.name == "samcore.serve.access"]
    assert [r["status"] for r in records] == [499, 200]
    assert records[0]["bytes_in"] == 100 and records[1]["cache"] == "miss"
    assert {"request_id", "method", "path", "ms", "bytes_out", "client"} <= records[1].keys()


def test_a_restart_finds_the_disk_cache_warm(encoder, model, tmp_path) -> None:
    data = encode_file(picture())
    with client(encoder, model, cache_dir=tmp_path) as c:
        first = c.post("/v1/embeddings", content=data, headers=PNG)
        assert first.headers["x-cache"] == "miss"

    def must_not_encode(images):
        raise AssertionError("the warm cache should answer")

    with client(encoder, model, encode_batch=must_not_encode, cache_dir=tmp_path) as c:
        key = first.headers["etag"].strip('"')
        again = c.get(f"/v1/embeddings/{key}")
        assert again.status_code == 200 and again.content == first.content
        assert c.post("/v1/embeddings", content=data, headers=PNG).headers["x-cache"] == "hit"


def test_the_caches_bounds_evict_the_least_recently_used(tmp_path) -> None:
    from samcore.serve.cache import EmbeddingCache

    cache = EmbeddingCache(memory_bytes=300, folder=tmp_path, disk_bytes=300)
    keys = [f"{i:064x}" for i in range(3)]
    for key in keys:
        cache.put(key, key.encode() * 2)  # 128 bytes each: two fit in each tier
    assert len(cache) == 2 and cache.get(keys[0]) is None
    assert cache.get(keys[2]) == keys[2].encode() * 2
    assert sorted(p.stem for p in tmp_path.glob("*.safetensors")) == keys[1:]
    with pytest.raises(ValueError, match="key: expected 64 lowercase hex digits"):
        cache.get("../../etc/passwd")


def test_settings_and_client_inputs_are_checked(tmp_path) -> None:
    from samcore.client import EmbeddingClient, image_file
    from samcore.errors import InputError, InputTypeError

    with pytest.raises(InputError, match="max_batch: expected a positive int, got 0"):
        ServiceSettings(max_batch=0)
    with pytest.raises(InputError, match="max_wait_ms: expected a number >= 0, got -1"):
        ServiceSettings(max_wait_ms=-1)
    with pytest.raises(InputError, match=r"missing\.png'?: no such file"):
        image_file(tmp_path / "missing.png")
    with pytest.raises(InputError, match=r"image: expected a uint8 array \[H, W, 3\], got float32"):
        image_file(np.zeros((4, 4, 3), np.float32))
    with pytest.raises(InputTypeError, match="image: expected a path, file bytes or a uint8 array, got int"):
        image_file(3)
    with pytest.raises(InputError, match="dtype: expected 'float16' or 'float32', got 'int8'"):
        EmbeddingClient("http://127.0.0.1:9", dtype="int8")
    data, content_type = image_file(picture())
    assert content_type == "image/png" and data.startswith(b"\x89PNG")
    assert image_file(encode_file(picture(), "WEBP"))[1] == "image/webp"
    assert image_file(encode_file(picture(), "JPEG"))[1] == "image/jpeg"
