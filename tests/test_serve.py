"""`mmcf serve` over a tiny kNN model: the endpoints, the same ranking as `mmcf recommend`, every
bad request answered 4xx with a JSON error naming the field, and 200 requests from 8 threads at
once."""

from __future__ import annotations

import http.client
import json
import logging
import shutil
import socket
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import pytest

from conftest import make_track, running_server, uri
from mmcf.models.store import load_vocab
from mmcf.submission.cli import main
from mmcf.submission.pipeline.loading import choose_kind

SEEDS = [make_track(0, k, 0)["track_uri"] for k in (0, 1, 2)]  # popular "Rock Anthems" tracks
HEADERS = {"Content-Type": "application/json"}


def request(
    url: str, method: str, path: str, body: bytes | str | None = None, headers: dict | None = None
) -> tuple[int, dict | str, http.client.HTTPResponse]:
    """One request on a fresh connection; the body parsed as JSON when it is JSON."""
    connection = http.client.HTTPConnection(urlsplit(url).netloc, timeout=10)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        raw = response.read().decode("utf-8")
        is_json = response.getheader("Content-Type", "").startswith("application/json")
        return response.status, json.loads(raw) if is_json and raw else raw, response
    finally:
        connection.close()


def post(url: str, payload) -> tuple[int, dict]:
    status, data, _ = request(url, "POST", "/recommend", json.dumps(payload), HEADERS)
    return status, data


def test_health_page_and_search(server_url):
    status, data, _ = request(server_url, "GET", "/health")
    assert (
        status == 200 and data["status"] == "ok" and data["model"] == "knn" and data["tracks"] > 100
    )
    status, html, response = request(server_url, "GET", "/")
    assert status == 200 and response.getheader("Content-Type").startswith("text/html")
    assert (
        'id="title"' in html
        and "/recommend" in html
        and "<script" in html
        and "https://" not in html
    )
    status, data, _ = request(
        server_url, "GET", "/tracks?q=S%C3%93NG%200-1&limit=5"
    )  # "SÓNG 0-1": case-folded
    names = [t["name"] for t in data["tracks"]]
    assert status == 200 and len(names) == 5 and all(n.startswith("Sóng 0-1") for n in names)
    status, data, _ = request(server_url, "GET", "/tracks?q=art%C3%8Dst%2032")  # by artist
    assert (
        status == 200
        and data["tracks"]
        and {t["artist"] for t in data["tracks"]} == {"Artíst 32 ñ"}
    )
    assert len(data["tracks"]) <= 20 and request(server_url, "GET", "/tracks?q=zzzz")[1] == {
        "tracks": []
    }


def test_search_is_most_popular_first(server_url, knn_model_dir):
    vocab = load_vocab(knn_model_dir)  # ordered by playlist count, most frequent first
    found = [
        vocab.track_index[t["uri"]]
        for t in request(server_url, "GET", "/tracks?q=0-&limit=100")[1]["tracks"]
    ]
    assert len(found) == 100 and found == sorted(found)
    everything = request(server_url, "GET", "/tracks?q=")[1]["tracks"]
    assert [t["uri"] for t in everything] == vocab.track_uris[:20]


@pytest.mark.parametrize(
    "payload",
    [
        {"title": "Rock Anthems", "tracks": SEEDS, "n": 30},
        {"tracks": SEEDS + [uri("track", 10**9)], "n": 7},
        {"title": "chill vibes"},
    ],
)
def test_recommend_matches_the_cli(server_url, knn_model_dir, capsys, payload):
    status, data = post(server_url, payload)
    argv = ["recommend", "--model-dir", str(knn_model_dir), "--model", "knn"]
    argv += ["--json", "-n", str(payload.get("n", 20))]
    argv += ["--title", payload["title"]] if "title" in payload else []
    argv += [a for s in payload.get("tracks", []) for a in ("--track", s)]
    assert main(argv) == 0
    cli = json.loads(capsys.readouterr().out)
    assert status == 200 and len(data["tracks"]) == payload.get("n", 20)
    assert [(t["uri"], t["name"], t["artist"], t["score"]) for t in data["tracks"]] == [
        (r["uri"], r["track"], r["artist"], r["score"]) for r in cli
    ]
    assert not {t["uri"] for t in data["tracks"]} & set(payload.get("tracks", []))


BAD_REQUESTS = [
    ("{", 400, "body: not valid JSON"),
    (b"\xff\xfe", 400, "body: not UTF-8"),
    ("[1, 2]", 400, "body: expected a JSON object"),
    ("{}", 400, "title, tracks"),
    ('{"title": "  ", "tracks": []}', 400, "title, tracks"),
    ('{"title": "x", "tracks": "spotify:track:x"}', 400, "tracks: expected a list"),
    ('{"title": "x", "tracks": [1]}', 400, "tracks[0]"),
    (json.dumps({"tracks": [SEEDS[0]] * 501}), 400, "tracks: 501 seed tracks"),
    (json.dumps({"title": "x" * 501}), 400, "title: 501 characters"),
    ('{"title": 5}', 400, "title: expected a string"),
    ('{"title": "x", "n": 0}', 400, "n: 0 is outside 1–500"),
    ('{"title": "x", "n": 501}', 400, "n: 501 is outside"),
    ('{"title": "x", "n": 2.5}', 400, "n: expected an integer"),
    ('{"title": "x", "n": "20"}', 400, "n: expected an integer"),
    ('{"title": "x", "n": true}', 400, "n: expected an integer"),
    (json.dumps({"tracks": [uri("track", 10**9)]}), 400, "none of the 1 tracks"),
    ('{"title": "x", "seeds": []}', 400, "unknown field 'seeds'"),
]


@pytest.mark.parametrize("body,status,fragment", BAD_REQUESTS)
def test_bad_recommend_requests(server_url, body, status, fragment):
    got, data, _ = request(server_url, "POST", "/recommend", body, HEADERS)
    assert (got, fragment in data["error"]) == (status, True), data
    assert "Traceback" not in data["error"]


@pytest.mark.parametrize(
    "method,path,body,headers,status,fragment",
    [
        ("POST", "/recommend", b"{" + b" " * (1 << 20) + b"}", {}, 413, "body: 1048578 bytes"),
        ("GET", "/nowhere", None, {}, 404, "no such path '/nowhere'"),
        ("GET", "/recommend", None, {}, 405, "GET is not allowed on /recommend; use POST"),
        ("DELETE", "/health", None, {}, 405, "DELETE is not allowed"),
        ("POST", "/tracks", "{}", {}, 405, "use GET"),
        ("GET", "/tracks?limit=0", None, {}, 400, "limit: 0 is outside 1–100"),
        ("GET", "/tracks?limit=ten", None, {}, 400, "limit: expected an integer"),
        ("GET", "/tracks?query=rock", None, {}, 400, "unknown parameter 'query'"),
    ],
)
def test_bad_http_requests(server_url, method, path, body, headers, status, fragment):
    got, data, response = request(server_url, method, path, body, headers)
    assert (got, fragment in data["error"]) == (status, True), data
    if status == 405:
        assert response.getheader("Allow") in ("GET", "POST")


@pytest.mark.parametrize(
    "raw,status,fragment",
    [
        (
            b"POST /recommend HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            411,
            "Content-Length header is required",
        ),
        (
            b"POST /recommend HTTP/1.1\r\nHost: x\r\nContent-Length: ten\r\n\r\n",
            400,
            "bad Content-Length",
        ),
        (
            b"POST /recommend HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            411,
            "chunked",
        ),
        (b"GET / x HTTP/1.1\r\n\r\n", 400, "Bad request syntax"),
    ],
)
def test_malformed_http(server_url, raw, status, fragment):
    """What http.client will not send:
    no or bad Content-Length, chunked bodies, a broken request line."""
    with socket.create_connection(urlsplit(server_url).netloc.split(":"), timeout=10) as sock:
        sock.sendall(raw)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, body = answer.decode("utf-8").partition("\r\n\r\n")
    assert head.split()[1] == str(status) and fragment in json.loads(body)["error"], answer


def test_head_is_get_without_a_body(server_url):
    status, body, response = request(server_url, "HEAD", "/health")
    assert status == 200 and body == "" and int(response.getheader("Content-Length")) > 10


def test_keep_alive_and_an_unread_body(server_url):
    """Several requests on one connection; a refused body is not mistaken for the next request."""
    connection = http.client.HTTPConnection(urlsplit(server_url).netloc, timeout=10)
    for _ in range(3):
        connection.request("POST", "/recommend", json.dumps({"title": "Rock", "n": 2}), HEADERS)
        assert connection.getresponse().read() and True
    connection.request("POST", "/nowhere", json.dumps({"title": "x"}), HEADERS)
    response = connection.getresponse()
    assert response.status == 404 and response.getheader("Connection") == "close"
    response.read()
    connection.close()
    assert request(server_url, "GET", "/health")[0] == 200


def test_internal_errors_are_logged_not_sent(knn_model_dir, monkeypatch, caplog):
    from mmcf.submission.service import Service

    def broken(self, body):
        raise RuntimeError("scoring exploded")

    monkeypatch.setattr(Service, "recommend", broken)
    with (
        running_server(knn_model_dir) as url,
        caplog.at_level(logging.ERROR, "mmcf.submission.serve"),
    ):
        status, data = post(url, {"title": "x"})
    assert status == 500 and "exploded" not in data["error"] and "Traceback" not in data["error"]
    assert "scoring exploded" in caplog.text


def test_concurrent_requests(server_url):
    """200 requests from 8 client threads, each on its own connection:
    all answered, all the same answer."""
    payloads = [
        {"title": "Rock Anthems", "tracks": SEEDS[: 1 + i % 3], "n": 10 + i % 5} for i in range(200)
    ]
    expected = {i: post(server_url, payloads[i])[1] for i in range(15)}
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda p: post(server_url, p), payloads))
    assert all(status == 200 for status, _ in answers)
    assert all(answers[i][1] == expected[i % 15] for i in range(200))


def test_choose_kind(knn_model_dir, tmp_path):
    assert choose_kind(knn_model_dir, None) == "knn"
    several = tmp_path / "several"
    shutil.copytree(knn_model_dir, several)
    for kind in ("dae", "cnn", "mmcf"):
        (several / kind).mkdir()
        (several / kind / "manifest.json").write_text("{}")
    assert choose_kind(several, None) == "mmcf"  # the ensemble whenever it is trained
    shutil.rmtree(several / "mmcf")
    with pytest.raises(Exception, match=r"several models \(knn, dae, cnn\) and no 'mmcf'"):
        choose_kind(several, None)


def test_serve_cli_mistakes(knn_model_dir, tmp_path, capsys):
    assert main(["serve", "--model-dir", str(tmp_path / "none")]) == 2
    assert "mmcf serve: error: " in capsys.readouterr().err
    assert main(["serve", "--model-dir", str(knn_model_dir), "--model", "dae", "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert (
        f"{knn_model_dir / 'dae'}: no trained 'dae' model (trained in {knn_model_dir}: knn)" in err
    )
    assert "Traceback" not in err
