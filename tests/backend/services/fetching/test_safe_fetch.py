"""The safe fetcher refuses every way a URL could reach the server's own network.

A real HTTP(S) server on loopback plays the photo host; names resolve through a resolver the
test passes in (never real DNS). Loopback is reachable only as an exact test origin.
"""

from __future__ import annotations

import datetime
import ipaddress
import ssl
import threading
import time
from collections.abc import Iterator, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from backend.config.settings import Settings
from backend.services.fetching.safe_fetch import (
    FetchPolicy,
    FetchRefused,
    SafeFetcher,
    address_refusal,
    host_allowed,
)
from tests.helpers.images import jpeg

PHOTO = jpeg(3)
LH3 = "lh3.googleusercontent.com"


class Handler(BaseHTTPRequestHandler):
    seen: list[tuple[str, str | None]] = []  # (path, Host header)

    def log_message(self, *args: object) -> None:
        pass

    def _send(self, status: int, kind: str, body: bytes, **headers: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802
        Handler.seen.append((self.path, self.headers.get("Host")))
        if self.path == "/photo.jpg":
            self._send(200, "image/jpeg", PHOTO)
        elif self.path == "/page":
            self._send(200, "text/html; charset=utf-8", b"<html>not a photo</html>")
        elif self.path == "/big.jpg":
            self._send(200, "image/jpeg", PHOTO + b"\0" * 200_000)
        elif self.path == "/big-unsized.jpg":  # no Content-Length: the limit applies as it streams
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.end_headers()
            for _ in range(40):
                self.wfile.write(b"\0" * 10_000)
        elif self.path == "/slow.jpg":
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.send_header("Content-Length", str(len(PHOTO)))
            self.end_headers()
            try:
                for i in range(0, len(PHOTO), 64):  # a trickle: each read is in time, not the sum
                    self.wfile.write(PHOTO[i : i + 64])
                    self.wfile.flush()
                    time.sleep(0.05)
            except OSError:
                pass
        elif self.path.startswith("/to?"):
            self._send(302, "text/plain", b"", Location=self.path.split("?", 1)[1])
        else:
            self._send(404, "text/plain", b"no")


@pytest.fixture(scope="module")
def origin() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def resolver(table: dict[str, Sequence[str]]):  # type: ignore[no-untyped-def]
    def resolve(host: str, port: int) -> Sequence[str]:
        if host not in table:
            raise OSError(f"test resolver: unknown name {host}")
        return table[host]

    return resolve


def fetcher(origin: str = "", names: dict[str, Sequence[str]] | None = None, **policy: object):  # type: ignore[no-untyped-def]
    values: dict[str, object] = {
        "test_origins": (origin,) if origin else (),
        "max_bytes": 100_000,
        "total_timeout": 1.0,
        **policy,
    }
    names = names or {"127.0.0.1": ["127.0.0.1"]}
    return SafeFetcher(FetchPolicy(**values), resolve=resolver(names))  # type: ignore[arg-type]


def refused(fetch: SafeFetcher, url: str) -> str:
    with pytest.raises(FetchRefused) as caught:
        fetch.fetch(url)
    return caught.value.reason


def test_a_test_origin_is_fetched(origin: str) -> None:
    got = fetcher(origin).fetch(origin + "/photo.jpg")
    assert got.data == PHOTO and got.content_type == "image/jpeg"


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("https://127.0.0.1/photo.jpg", "loopback"),
        ("https://10.1.2.3/photo.jpg", "private"),
        ("https://169.254.169.254/latest/meta-data/", "cloud metadata"),
        ("https://[::1]/photo.jpg", "loopback"),
        ("https://[::ffff:10.0.0.1]/photo.jpg", "private"),
        ("https://0.0.0.0/photo.jpg", "unspecified"),
        ("http://lh3.googleusercontent.com/photo.jpg", "only https"),
        ("https://evil.example.com/photo.jpg", "not one of the hosts"),
        ("https://lh3.googleusercontent.com.evil.example/x", "not one of the hosts"),
        ("https://user:pw@lh3.googleusercontent.com/x", "credentials"),
        ("file:///etc/passwd", "only https"),
        ("gopher://lh3.googleusercontent.com/x", "only https"),
    ],
)
def test_urls_refused_before_any_connection(url: str, words: str) -> None:
    assert words in refused(fetcher(), url)


@pytest.mark.parametrize(
    ("answers", "words"),
    [
        (["10.0.0.7"], "private"),
        (["192.168.1.5"], "private"),
        (["127.0.0.1"], "loopback"),
        (["169.254.169.254"], "cloud metadata"),
        (["168.63.129.16"], "cloud metadata"),  # Azure's WireServer: a public address
        (["100.100.100.200"], "cloud metadata"),
        (["100.64.1.1"], "CGNAT"),
        (["224.0.0.1"], "multicast"),
        (["240.0.0.1"], "reserved"),
        (["::1"], "loopback"),
        (["fe80::1"], "link-local"),
        (["fd00:ec2::254"], "cloud metadata"),
        (["fc00::5"], "private"),
        (["::ffff:127.0.0.1"], "loopback"),  # IPv4-mapped
        (["2002:a00:1::"], "private"),  # 6to4 of 10.0.0.1
        (["64:ff9b::a9fe:a9fe"], "cloud metadata"),  # NAT64 of 169.254.169.254
        (["::a00:1"], "private"),  # IPv4-compatible 10.0.0.1
        (["8.8.8.8", "10.0.0.1"], "private"),  # one bad answer among good ones is enough
    ],
)
def test_a_name_that_resolves_to_a_forbidden_address(answers: list[str], words: str) -> None:
    reason = refused(fetcher(names={LH3: answers}), f"https://{LH3}/photo=d")
    assert "resolves to a forbidden address" in reason and words in reason


def test_an_unresolvable_name() -> None:
    assert "could not be resolved" in refused(fetcher(names={}), f"https://{LH3}/x")


def test_a_redirect_to_a_private_address(origin: str) -> None:
    fetch = fetcher(origin, names={"127.0.0.1": ["127.0.0.1"], LH3: ["10.0.0.9"]})
    reason = refused(fetch, f"{origin}/to?https://{LH3}/photo=d")
    assert "forbidden address" in reason and "10.0.0.9" in reason


@pytest.mark.parametrize(
    ("target", "words"),
    [
        ("https://evil.example.com/x.jpg", "not one of the hosts"),
        ("http://127.0.0.1:1/photo.jpg", "only https"),  # loopback, but not the test origin
        ("https://169.254.169.254/", "cloud metadata"),
    ],
)
def test_a_redirect_off_the_list(origin: str, target: str, words: str) -> None:
    assert words in refused(fetcher(origin), f"{origin}/to?{target}")


def test_a_redirect_on_the_list_is_followed(origin: str) -> None:
    assert fetcher(origin).fetch(f"{origin}/to?/photo.jpg").data == PHOTO


def test_too_many_redirects(origin: str) -> None:
    hop = f"{origin}/to?/photo.jpg"
    for _ in range(4):
        hop = f"{origin}/to?{hop}"
    assert "redirects" in refused(fetcher(origin), hop)


def test_an_over_size_body(origin: str) -> None:
    assert "over the limit" in refused(fetcher(origin), origin + "/big.jpg")
    assert "over the limit" in refused(fetcher(origin), origin + "/big-unsized.jpg")


def test_a_slow_body(origin: str) -> None:
    started = time.monotonic()
    assert "too slowly" in refused(fetcher(origin, total_timeout=0.3), origin + "/slow.jpg")
    assert time.monotonic() - started < 2


def test_a_non_image(origin: str) -> None:
    assert "text/html, not an image" in refused(fetcher(origin), origin + "/page")


def test_an_error_status(origin: str) -> None:
    assert "answered 404" in refused(fetcher(origin), origin + "/missing.jpg")


def test_address_rules() -> None:
    assert address_refusal(ipaddress.ip_address("142.250.74.33")) is None  # a Google address
    assert address_refusal(ipaddress.ip_address("2a00:1450:4001:80b::2001")) is None
    assert address_refusal(ipaddress.ip_address("2001::1")) is not None  # Teredo


def test_host_patterns() -> None:
    allowed = ["lh3.googleusercontent.com", "*.usercontent.google.com"]
    assert host_allowed("LH3.googleusercontent.com.", allowed)
    assert host_allowed("photos.fife.usercontent.google.com", allowed)
    assert not host_allowed("usercontent.google.com", allowed)
    assert not host_allowed("lh4.googleusercontent.com", allowed)
    assert not host_allowed("xusercontent.google.com", allowed)


def test_test_origins_are_refused_outside_tests(tmp_path: Path) -> None:
    for environment in ("development", "production"):
        with pytest.raises(ValueError, match="for tests only"):
            Settings(
                environment=environment,
                DUPFINDER_SECRET_KEY="x" * 40,
                DUPFINDER_DATA_DIR=str(tmp_path),
                DUPFINDER_FETCH_TEST_ORIGINS=["http://127.0.0.1:8000"],
            )
    defaults = Settings(DUPFINDER_DATA_DIR=str(tmp_path), DUPFINDER_SECRET_KEY="x" * 40)
    assert defaults.fetch_test_origins == [] and defaults.fetch_test_ca_file is None
    assert defaults.fetch_allowed_hosts == [LH3, "photos.fife.usercontent.google.com"]


# HTTPS: the connection goes to the checked address, TLS and Host use the name.


def _certificate(tmp_path: Path, name: str) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def test_https_connects_to_the_checked_address_with_the_name(tmp_path: Path) -> None:
    cert, key = _certificate(tmp_path, "photos.test")
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert, key)
    sni: list[str | None] = []
    tls.sni_callback = lambda _sock, name, _ctx: sni.append(name)  # type: ignore[assignment,func-returns-value]
    server.socket = tls.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    try:
        names = {"photos.test": ["127.0.0.1"], "other.test": ["127.0.0.1"]}
        origins = (f"https://photos.test:{port}", f"https://other.test:{port}")
        fetch = fetcher(names=names, test_origins=origins, test_ca_file=str(cert))
        Handler.seen.clear()
        assert fetch.fetch(f"https://photos.test:{port}/photo.jpg").data == PHOTO
        assert sni == ["photos.test"]
        assert Handler.seen == [("/photo.jpg", f"photos.test:{port}")]
        # The same address under a name the certificate does not carry: refused by TLS.
        assert "certificate is not valid" in refused(fetch, f"https://other.test:{port}/x.jpg")
    finally:
        server.shutdown()
