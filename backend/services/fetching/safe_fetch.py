"""The one way the service downloads a URL: safe against server-side request forgery.

A URL that a person sends us (a scraped photo's address) must never make the server reach
its own network: the cloud metadata service, the database, an admin port on loopback. So:

- only ``https`` URLs whose host is on an allow-list (exact names, or ``*.suffix`` patterns);
- the host is resolved here, and every address it resolves to is checked: private, loopback,
  link-local, multicast, unspecified, reserved, shared (CGNAT) and the cloud metadata
  addresses are refused, IPv4 and IPv6 alike, including IPv6 forms that carry an IPv4
  address (IPv4-mapped, IPv4-compatible, 6to4, NAT64, Teredo);
- the connection goes to the address that was checked (TLS still verifies the certificate
  for the name, sent as SNI and ``Host``): no second DNS lookup, so no DNS-rebinding window;
- redirects are followed by hand, each hop checked as above (at most ``max_redirects``);
- connect and per-read timeouts, a deadline for the whole body, a size limit enforced while
  streaming, and an ``image/*`` content type.

Every refusal raises :class:`FetchRefused` with a reason a person understands. Connection
failures (refused, reset) raise ``ConnectionError``: passing faults, worth a retry.

Tests reach a loopback server only through ``test_origins`` (exact ``scheme://host:port``
origins exempt from the scheme and address checks), which the settings accept only when the
environment is ``test``.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

from backend.config import Settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# host, port -> the addresses to try (strings). Tests pass their own; never real DNS there.
Resolver = Callable[[str, int], Sequence[str]]

# Google's photo content hosts: what a scraped Google Photos page links to.
DEFAULT_ALLOWED_HOSTS = ("lh3.googleusercontent.com", "photos.fife.usercontent.google.com")
REDIRECT_CODES = (301, 302, 303, 307, 308)
CHUNK = 64 * 1024

# Cloud metadata and platform endpoints, refused by name even where an address is public
# (Azure's WireServer is a public address; the others are also caught as link-local/private).
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack, DigitalOcean ...
        "169.254.170.2",  # AWS ECS task metadata
        "168.63.129.16",  # Azure WireServer
        "100.100.100.200",  # Alibaba Cloud
        "fd00:ec2::254",  # AWS IPv6 metadata
    )
)
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
_CGNAT = ipaddress.ip_network("100.64.0.0/10")


class FetchRefused(Exception):
    """The URL was not fetched, deliberately; ``reason`` says why in words."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class FetchPolicy:
    allowed_hosts: tuple[str, ...] = DEFAULT_ALLOWED_HOSTS
    max_bytes: int = 100 * 1024 * 1024
    connect_timeout: float = 10.0
    read_timeout: float = 30.0  # for each read
    total_timeout: float = 120.0  # for the whole download, a trickling body included
    max_redirects: int = 3
    # Test only (the settings refuse them outside ``environment=test``): exact origins such as
    # "http://127.0.0.1:8123" that skip the scheme and address checks, and a CA file to trust.
    test_origins: tuple[str, ...] = ()
    test_ca_file: str | None = None


def policy_from(settings: Settings) -> FetchPolicy:
    return FetchPolicy(
        allowed_hosts=tuple(settings.fetch_allowed_hosts),
        max_bytes=settings.max_upload_bytes,
        connect_timeout=settings.fetch_connect_timeout,
        read_timeout=settings.fetch_read_timeout,
        total_timeout=settings.fetch_total_timeout,
        test_origins=tuple(settings.fetch_test_origins),
        test_ca_file=settings.fetch_test_ca_file,
    )


@dataclass(frozen=True)
class Fetched:
    data: bytes
    content_type: str
    url: str  # after redirects


def address_refusal(address: IPAddress) -> str | None:
    """Why the service must not connect to ``address``, or None when it may."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            reason = address_refusal(embedded)
            return reason and f"{reason} (inside the IPv6 address {address})"
        if address.teredo is not None:
            return f"{address} is a Teredo tunnel address"
    if address in METADATA_ADDRESSES:
        return f"{address} is a cloud metadata address"
    checks = (
        (address.is_loopback, "a loopback"),
        (address.is_unspecified, "an unspecified"),
        (address.is_link_local, "a link-local"),
        (address.is_multicast, "a multicast"),
        (address.is_reserved, "a reserved"),
        (address.is_private, "a private"),
        (isinstance(address, ipaddress.IPv4Address) and address in _CGNAT, "a shared (CGNAT)"),
        (isinstance(address, ipaddress.IPv6Address) and address.is_site_local, "a site-local"),
        (not address.is_global, "a non-public"),
    )
    for refused, kind in checks:
        if refused:
            return f"{address} is {kind} address"
    return None


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:  # ::ffff:a.b.c.d
        return address.ipv4_mapped
    if address.sixtofour is not None:  # 2002:AABB:CCDD::/48
        return address.sixtofour
    if any(address in net for net in _NAT64):  # 64:ff9b::a.b.c.d
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    packed = int(address)
    if packed >> 32 == 0 and packed > 1:  # IPv4-compatible ::a.b.c.d (deprecated)
        return ipaddress.IPv4Address(packed)
    return None


def host_allowed(host: str, allowed: Sequence[str]) -> bool:
    """Exact names, or ``*.example.com`` for any name under example.com (not itself)."""
    host = host.lower().rstrip(".")
    for entry in allowed:
        entry = entry.lower().strip().rstrip(".")
        if entry.startswith("*."):
            if host.endswith(entry[1:]) and len(host) > len(entry) - 1:
                return True
        elif host == entry:
            return True
    return False


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str  # path and query, as sent
    trusted_origin: bool  # a test origin: no scheme or address check


def check_url(url: str, policy: FetchPolicy) -> Target:
    """The URL's parts, or FetchRefused for what can be told without the network."""
    if len(url) > 4096:
        raise FetchRefused("the URL is longer than 4096 characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise FetchRefused(f"the URL is malformed ({exc})") from None
    scheme, host = parts.scheme.lower(), (parts.hostname or "")
    if scheme not in ("https", "http"):
        raise FetchRefused(f"only https URLs are fetched, not {scheme or 'a relative URL'}")
    if not host:
        raise FetchRefused("the URL has no host")
    if parts.username is not None or parts.password is not None:
        raise FetchRefused("the URL carries credentials; they are not sent")
    port = port or (443 if scheme == "https" else 80)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    if any(c in path for c in "\r\n\x00 "):
        raise FetchRefused("the URL contains spaces or control characters")
    origin = f"{scheme}://{host}:{port}"
    if origin in policy.test_origins:
        return Target(scheme, host, port, path, trusted_origin=True)
    if scheme != "https":
        raise FetchRefused(f"only https URLs are fetched, not {scheme or 'a relative URL'}")
    try:
        literal: IPAddress | None = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        reason = address_refusal(literal)
        raise FetchRefused(
            f"the URL names an address ({reason})"
            if reason
            else "the URL names an address, " "not one of the allowed hosts"
        )
    if not host_allowed(host, policy.allowed_hosts):
        raise FetchRefused(f"{host} is not one of the hosts photos are fetched from")
    return Target(scheme, host, port, path, trusted_origin=False)


def system_resolver(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _checked_address(target: Target, resolve: Resolver) -> str:
    """Resolve once; refuse if any address is forbidden (a name that mixes public and private
    answers is an attack), else the first one: the address that will be connected to."""
    try:
        answers = list(resolve(target.host, target.port))
    except (OSError, UnicodeError) as exc:
        raise FetchRefused(f"{target.host} could not be resolved ({exc})") from None
    if not answers:
        raise FetchRefused(f"{target.host} resolves to no address")
    if target.trusted_origin:
        return answers[0]
    for answer in answers:
        try:
            address = ipaddress.ip_address(answer.split("%", 1)[0])
        except ValueError:
            raise FetchRefused(f"{target.host} resolves to {answer!r}, not an address") from None
        reason = address_refusal(address)
        if reason:
            raise FetchRefused(f"{target.host} resolves to a forbidden address: {reason}")
    return answers[0]


class _PinnedHTTPS(http.client.HTTPSConnection):
    """HTTPS to a given address; TLS (SNI, certificate check) and Host use the name."""

    def __init__(
        self,
        host: str,
        port: int,
        address: str,
        timeouts: tuple[float, float],
        context: ssl.SSLContext,
    ) -> None:
        super().__init__(host, port, timeout=timeouts[0], context=context)
        self._address, self._read_timeout, self._tls = address, timeouts[1], context

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        sock.settimeout(self._read_timeout)
        self.sock = self._tls.wrap_socket(sock, server_hostname=self.host)


class _PinnedHTTP(http.client.HTTPConnection):
    """Plain HTTP to a given address (test origins only)."""

    def __init__(self, host: str, port: int, address: str, timeouts: tuple[float, float]) -> None:
        super().__init__(host, port, timeout=timeouts[0])
        self._address, self._read_timeout = address, timeouts[1]

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock.settimeout(self._read_timeout)


@dataclass
class SafeFetcher:
    policy: FetchPolicy
    resolve: Resolver = system_resolver
    user_agent: str = "dupfinder-fetcher/1"
    _tls: ssl.SSLContext | None = field(default=None, repr=False)

    def _context(self) -> ssl.SSLContext:
        if self._tls is None:
            self._tls = ssl.create_default_context(cafile=self.policy.test_ca_file)
        return self._tls

    def fetch(self, url: str) -> Fetched:
        """The body of ``url`` (an image), or FetchRefused; ConnectionError when the server
        could not be reached (worth another try)."""
        deadline = time.monotonic() + self.policy.total_timeout
        for _hop in range(self.policy.max_redirects + 1):
            target = check_url(url, self.policy)
            address = _checked_address(target, self.resolve)
            conn = self._connection(target, address)
            try:
                try:
                    conn.request(
                        "GET",
                        target.path,
                        headers={"User-Agent": self.user_agent, "Accept": "image/*"},
                    )
                    response = conn.getresponse()
                except ssl.SSLCertVerificationError as exc:
                    raise FetchRefused(
                        f"{target.host}'s certificate is not valid ({exc})"
                    ) from None
                except TimeoutError:
                    raise FetchRefused(f"{target.host} did not answer in time") from None
                if response.status in REDIRECT_CODES:
                    location = response.getheader("Location")
                    if not location:
                        raise FetchRefused(f"{target.host} redirected without a Location")
                    url = urljoin(url, location)
                    continue
                if response.status != 200:
                    raise FetchRefused(
                        f"{target.host} answered {response.status} {response.reason}"
                    )
                return Fetched(self._read(response, target, deadline), _type(response), url)
            except http.client.HTTPException as exc:
                raise FetchRefused(f"{target.host} sent a malformed answer ({exc!r})") from None
            finally:
                conn.close()
        raise FetchRefused(f"more than {self.policy.max_redirects} redirects")

    def _connection(self, target: Target, address: str) -> http.client.HTTPConnection:
        timeouts = (self.policy.connect_timeout, self.policy.read_timeout)
        if target.scheme == "https":
            return _PinnedHTTPS(target.host, target.port, address, timeouts, self._context())
        return _PinnedHTTP(target.host, target.port, address, timeouts)

    def _read(self, response: http.client.HTTPResponse, target: Target, deadline: float) -> bytes:
        content_type = _type(response)
        if not content_type.startswith("image/"):
            raise FetchRefused(f"the answer is {content_type or 'of no type'}, not an image")
        limit = self.policy.max_bytes
        declared = response.getheader("Content-Length")
        if declared and declared.isdigit() and int(declared) > limit:
            raise FetchRefused(
                f"the image is {_mib(int(declared))}, over the limit of {_mib(limit)}"
            )
        chunks: list[bytes] = []
        size = 0
        while True:
            if time.monotonic() > deadline:
                raise FetchRefused(
                    f"{target.host} sent the image too slowly (over "
                    f"{self.policy.total_timeout:g} s)"
                )
            try:
                chunk = response.read1(CHUNK)
            except TimeoutError:
                raise FetchRefused(f"{target.host} stopped sending the image") from None
            if not chunk:
                return b"".join(chunks)
            size += len(chunk)
            if size > limit:
                raise FetchRefused(f"the image is over the limit of {_mib(limit)}")
            chunks.append(chunk)


def _type(response: http.client.HTTPResponse) -> str:
    return (response.getheader("Content-Type") or "").split(";", 1)[0].strip().lower()


def _mib(n: int) -> str:
    return f"{n / 2**20:.1f} MiB"
