"""``samcore serve`` as a real uvicorn subprocess on 127.0.0.1, and EmbeddingClient against it."""

from __future__ import annotations

import json
import socket
import time
import urllib.parse
import urllib.request

import numpy as np
import pytest

pytest.importorskip("uvicorn")
pytest.importorskip("starlette")
pytest.importorskip("PIL")

from serve_helpers import encode_file, picture, running_service, write_small_sam

from samcore.client import EmbeddingClient
from samcore.decoder import Decoder
from samcore.encoder import Encoder
from samcore.errors import InputError, ServiceResponseError
from samcore.predictor import Predictor


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    return write_small_sam(tmp_path_factory.mktemp("model") / "small_sam.safetensors")


def access_lines(cache, until=lambda lines: True, timeout: float = 10.0) -> list[dict]:
    """The server's JSON access lines, once ``until(lines)`` holds (a line is written just after
    its response is sent, so it may come a moment after the client has its answer)."""
    deadline = time.monotonic() + timeout
    while True:
        lines = [json.loads(line) for line in (cache / "server.log").read_text().splitlines() if line.startswith("{")]
        if until(lines) or time.monotonic() > deadline:
            return lines
        time.sleep(0.05)


def test_client_embeds_through_the_service_and_caches_locally(weights, tmp_path) -> None:
    image = picture(120, 90, seed=4)
    path = tmp_path / "photo.jpg"
    path.write_bytes(encode_file(image, "JPEG", quality=95))
    from PIL import Image

    decoded = np.asarray(Image.open(path).convert("RGB"))
    expected = Encoder.from_weights(weights, backend="numpy").encode(decoded)
    # the numpy encoder, as ``expected``: the float32 download below is compared exactly
    with running_service(weights, "--token", "t0ken", "--cache-dir", str(tmp_path / "disk"), "--backend", "numpy",
                         cache=tmp_path) as url:
        client = EmbeddingClient(url, token="t0ken", cache_folder=tmp_path / "local")
        embedding = client.embed(path)
        assert embedding.original_size == (120, 90) and embedding.model_id == client.model["id"]
        tolerance = 1e-3 * expected.features.std()  # float16 on the wire
        np.testing.assert_allclose(embedding.features, expected.features, rtol=1e-3, atol=tolerance)
        lines = access_lines(tmp_path, lambda lines: any(r["method"] == "POST" for r in lines))
        assert [(r["status"], r.get("cache")) for r in lines if r["method"] == "POST"] == [(200, "miss")]

        again = client.embed(str(path))  # the local cache answers: no request at all
        np.testing.assert_array_equal(again.features, embedding.features)
        time.sleep(0.3)
        assert len(access_lines(tmp_path)) == len(lines)

        other = EmbeddingClient(url, token="t0ken", cache_folder=False, dtype="float32")
        full = other.embed(path.read_bytes())  # known to the service: GET by key, no upload
        np.testing.assert_array_equal(full.features, expected.features)
        by_key = f"/v1/embeddings/{other.key(path.read_bytes())}"
        lines = access_lines(tmp_path, lambda lines: any(r["path"] == by_key and r["status"] == 200 for r in lines))
        assert [r.get("cache") for r in lines if r["path"] == by_key] == [None, "hit"]  # 404, then 200 from cache
        assert sum(r["method"] == "POST" for r in lines) == 1

        # The device decodes on the embedding it got, as on one it encoded itself.
        device = Predictor(Decoder.from_weights(weights, backend="numpy"))
        device.set_embedding(embedding)
        masks, _, _ = device.predict(point_coords=np.array([[40.0, 50.0]]), point_labels=np.array([1]))
        local = Predictor(Decoder.from_weights(weights, backend="numpy"))
        local.set_embedding(expected)
        local_masks, _, _ = local.predict(point_coords=np.array([[40.0, 50.0]]), point_labels=np.array([1]))
        assert masks.shape == (3, 120, 90)
        assert (masks == local_masks).mean() > 0.99  # float16 on the wire moves a few border pixels at most

        with pytest.raises(ServiceResponseError, match="401") as info:
            EmbeddingClient(url, token="wrong", cache_folder=False).embed(path)
        assert info.value.status == 401 and info.value.code == "unauthorized"
        with pytest.raises(InputError, match="image: expected a JPEG, PNG or WebP file"):
            client.embed(b"GIF89a not supported")


def test_a_client_leaving_mid_upload_and_a_restart_with_a_warm_disk_cache(weights, tmp_path) -> None:
    data = encode_file(picture(seed=7))
    disk = tmp_path / "disk"
    with running_service(weights, "--cache-dir", str(disk), cache=tmp_path) as url:
        host, port = urllib.parse.urlsplit(url).hostname, urllib.parse.urlsplit(url).port
        with socket.create_connection((host, port), timeout=10) as s:
            s.sendall(b"POST /v1/embeddings HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\n"
                      + f"Content-Length: {len(data)}\r\n\r\n".encode() + data[: len(data) // 2])
        # The service stays up and the next upload works.
        request = urllib.request.Request(url + "/v1/embeddings", data, {"Content-Type": "image/png"})
        with urllib.request.urlopen(request, timeout=60) as r:
            key, first = r.headers["ETag"].strip('"'), r.read()
            assert r.headers["X-Cache"] == "miss"
    def posts(lines: list[dict]) -> list[int]:
        return sorted(r["status"] for r in lines if r["method"] == "POST")

    assert posts(access_lines(tmp_path, lambda lines: len(posts(lines)) >= 2)) == [200, 499]  # 499: it left

    with running_service(weights, "--cache-dir", str(disk), cache=tmp_path) as url:
        with urllib.request.urlopen(f"{url}/v1/embeddings/{key}", timeout=60) as r:
            assert r.read() == first and r.headers["X-Cache"] == "hit"
        with urllib.request.urlopen(f"{url}/healthz", timeout=10) as r:
            assert json.loads(r.read())["batches"] == 0  # nothing encoded after the restart
