"""Webhooks cannot be aimed at the registry's own network (issue #10, server-side request
forgery): registration refuses a URL whose host is or resolves to a non-public address, in
every environment, and the dispatcher checks every address again when it connects and
connects to the address it checked, so DNS rebinding, numeric spellings of loopback and IPv6
forms of internal IPv4 addresses reach nothing. The delivery log a partner reads names a
class of failure, never what its URL reached.

The receivers are real servers on 127.0.0.1 (HTTP, and HTTPS with a CA made for the test).
This machine reaches no public DNS, so names that public DNS would answer (a nip.io name, a
rebinding server) are answered by :class:`Dns`, the policy's resolver; every other name and
every numeric form goes through the system's getaddrinfo.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
import socket
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from ipaddress import IPv4Network, IPv6Network, ip_address
from typing import Any

import httpcore
import pytest
import sqlalchemy as sa
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from registry_api.auth import AuthenticatedKey
from registry_api.db import Role, Webhook
from registry_api.errors import InvalidError
from registry_api.services.api_keys import create_api_key
from registry_api.services.webhooks import (
    AddressPolicy,
    BlockedAddressError,
    WebhookSecrets,
    check_url,
    create_webhook,
    system_resolver,
)
from registry_api.workers.webhooks import WebhookDispatcher, classify
from tests.registry_api.conftest import ChainApp, ChainAppFactory, chain_app, clean_environment
from tests.registry_api.feed_support import Receiver, S, issue, propose_mra
from tests.registry_api.support import assert_problem

__all__ = ["chain_app", "clean_environment"]  # fixtures of the registry tests, used here

# `make test-fast` keeps the policy, registration and the connect-time block of every form;
# these cost a registry and real servers each (`make test` runs them).
SLOW = pytest.mark.slow

#: a public address (it is only ever checked, never connected to)
PUBLIC = "93.184.215.14"
EVERYWHERE = (IPv4Network("0.0.0.0/0"), IPv6Network("::/0"))
LOOPBACK = (IPv4Network("127.0.0.0/8"),)


@dataclass
class Dns:
    """The public DNS these tests need: ``answers[name]`` is the list of answers the name
    gives, one per lookup (the last one repeats); other names go to the system resolver."""

    answers: dict[str, list[list[str]]] = field(default_factory=dict)
    lookups: list[str] = field(default_factory=list)

    def __call__(self, host: str, port: int) -> list[str]:
        self.lookups.append(host)
        turns = self.answers.get(host)
        if turns is None:
            return system_resolver(host, port)
        return turns.pop(0) if len(turns) > 1 else turns[0]


# ---------------------------------------------------------------- fixtures


@pytest.fixture
def mn(chain_app: ChainAppFactory) -> ChainApp:
    """MN's registry in development (the default), KR recognizing MN's S tier."""
    service = chain_app("MN", passphrase=secrets.token_urlsafe(18))
    propose_mra(service.consortium, "MN", {"MN": S, "KR": S})
    service.settle()
    return service


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    receiver.up()
    yield receiver
    receiver.close()


@pytest.fixture
def dispatchers(mn: ChainApp) -> Iterator[list[WebhookDispatcher]]:
    made: list[WebhookDispatcher] = []
    yield made
    for dispatcher in made:
        dispatcher.stop()


def dispatcher(
    mn: ChainApp,
    made: list[WebhookDispatcher],
    policy: AddressPolicy,
    ssl_context: ssl.SSLContext | None = None,
) -> WebhookDispatcher:
    settings = mn.app.state.settings.model_copy(update={"webhook_timeout": 5.0})
    worker = WebhookDispatcher(
        mn.app.state.session_factory,
        settings,
        policy=policy,
        ssl_context=ssl_context,
        draw=lambda: 1.0,
    )
    made.append(worker)
    return worker


def partner_headers(mn: ChainApp) -> dict[str, str]:
    return {"Authorization": f"Bearer {mn.token(Role.PARTNER, partner_authority='KR')}"}


def store_webhook(mn: ChainApp, url: str, policy: AddressPolicy) -> int:
    """KR's webhook to ``url``, registered under ``policy``: a registration that allowed
    more than the dispatcher now does (a row from before these checks, an allow-list
    narrowed since, a name that rebinds after it was checked)."""
    with mn.session() as session:
        key, _token = create_api_key(
            session, user="KR risk unit", role=Role.PARTNER, own_authority="MN",
            partner_authority="KR",
        )  # fmt: skip
        caller = AuthenticatedKey(
            id=key.id,
            prefix=key.prefix,
            user="KR risk unit",
            role=Role.PARTNER,
            partner_authority="KR",
            authority="MN",
        )
        webhook, _owner, _secret = create_webhook(
            session,
            key=caller,
            url=url,
            production=False,
            sealer=WebhookSecrets.of(mn.app.state.settings),
            policy=policy,
        )
        return webhook.id


def shared_event(mn: ChainApp, number: str = "MN-1") -> None:
    issue(mn.consortium, number, S)
    mn.settle()


def delivery_log(mn: ChainApp, webhook_id: int) -> list[dict[str, Any]]:
    admin = mn.headers(Role.ADMIN)
    answer = mn.client.get(f"/v1/webhooks/{webhook_id}/deliveries", headers=admin)
    assert answer.status_code == 200, answer.text
    rows: list[dict[str, Any]] = answer.json()["data"]
    return rows


# ---------------------------------------------------------------- the address policy


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("127.255.0.9", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("169.254.169.254", "link-local"),
        ("100.64.0.1", "shared (carrier-grade NAT)"),
        ("100.100.100.200", "shared (carrier-grade NAT)"),
        ("0.0.0.0", "unspecified"),  # noqa: S104 -- an address checked, not bound
        ("0.1.2.3", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("239.255.255.250", "multicast"),
        ("240.0.0.1", "reserved"),
        ("255.255.255.255", "reserved"),
        ("192.0.2.1", "private"),
        ("::1", "loopback"),
        ("::", "unspecified"),
        ("fe80::1", "link-local"),
        ("fd00::1", "private"),
        ("fec0::1", "site-local"),
        ("ff02::1", "multicast"),
        ("2001:db8::1", "private"),
        ("::7f00:1", "reserved"),  # IPv4-compatible ::127.0.0.1
        ("::ffff:127.0.0.1", "loopback IPv4 address in IPv6 form"),
        ("::ffff:169.254.169.254", "link-local IPv4 address in IPv6 form"),
        ("64:ff9b::a9fe:a9fe", "link-local IPv4 address in IPv6 form"),  # NAT64
        ("64:ff9b::7f00:1", "loopback IPv4 address in IPv6 form"),
        ("64:ff9b::a01:203", "private IPv4 address in IPv6 form"),
        ("64:ff9b:1::a9fe:a9fe", "NAT64 local-use"),
        ("2002:7f00:1::1", "loopback IPv4 address in IPv6 form"),  # 6to4
        ("2002:a9fe:a9fe::1", "link-local IPv4 address in IPv6 form"),
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "Teredo tunnel"),
    ],
)
def test_every_internal_form_of_an_address_is_refused(address: str, reason: str) -> None:
    assert AddressPolicy().refusal(ip_address(address)) == reason


@pytest.mark.parametrize(
    "address",
    [PUBLIC, "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808"],
)
def test_public_addresses_and_their_ipv6_forms_are_allowed(address: str) -> None:
    assert AddressPolicy().refusal(ip_address(address)) is None


def test_the_allow_list_admits_its_networks_in_every_form_and_nothing_else() -> None:
    policy = AddressPolicy((IPv4Network("127.0.0.1/32"), IPv4Network("10.20.0.0/16")))
    for allowed in ("127.0.0.1", "::ffff:127.0.0.1", "64:ff9b::7f00:1", "10.20.3.4"):
        assert policy.refusal(ip_address(allowed)) is None, allowed
    for refused in ("127.0.0.2", "10.21.0.1", "::1", "169.254.169.254"):
        assert policy.refusal(ip_address(refused)) is not None, refused


def test_a_name_is_refused_when_any_of_its_addresses_is_internal() -> None:
    dns = Dns({"mixed.example": [[PUBLIC, "10.0.0.7"]], "public.example": [[PUBLIC]]})
    policy = AddressPolicy(resolver=dns)
    assert [str(a) for a in policy.addresses("public.example", 443)] == [PUBLIC]
    with pytest.raises(BlockedAddressError, match=r"10\.0\.0\.7, a private address"):
        policy.addresses("mixed.example", 443)
    for name in ("localhost", "localhost.", "LocalHost", "api.localhost"):
        with pytest.raises(BlockedAddressError, match="loopback name"):
            policy.addresses(name, 443)


# ---------------------------------------------------------------- registration


INTERNAL_URLS = [
    "http://127.0.0.1:9710/hooks",
    "http://169.254.169.254/latest/meta-data/",
    "https://127.1:9710/",
    "https://2130706433/",
    "https://0x7f000001/",
    "https://017700000001/",
    "https://localhost./",
    "https://localhost:9710/",
    "https://[64:ff9b::a9fe:a9fe]/",
    "https://[::ffff:127.0.0.1]:9710/",
    "https://[::1]/",
    "https://10.1.2.3/",
    "https://100.64.0.1/",
    "https://0.0.0.0:9710/",
    "https://[fe80::1]/",
    "https://[fd12:3456::1]/",
    "https://[2002:7f00:1::1]/",
]


def test_registration_refuses_every_internal_target_in_development_naming_the_url(
    mn: ChainApp,
) -> None:
    headers = partner_headers(mn)
    for url in INTERNAL_URLS:
        answer = mn.client.post("/v1/webhooks", json={"url": url}, headers=headers)
        body = assert_problem(answer, 422, "invalid")
        assert body["detail"].startswith("url must point at a public address"), url
        assert [e["field"] for e in body["errors"]] == ["body.url"]
    with mn.session() as session:
        assert session.scalar(sa.select(sa.func.count(Webhook.id))) == 0


@pytest.mark.parametrize("production", [False, True])
def test_registration_refuses_a_name_that_resolves_inside(production: bool) -> None:
    dns = Dns({"169.254.169.254.nip.io": [["169.254.169.254"]], "partner.example": [[PUBLIC]]})
    policy = AddressPolicy(resolver=dns)
    with pytest.raises(InvalidError, match="url must point at a public address"):
        check_url("https://169.254.169.254.nip.io/latest", production=production, policy=policy)
    assert check_url("https://partner.example/hooks", production=production, policy=policy)
    # A name that does not resolve now is the dispatcher's to check when it does.
    assert check_url("https://not-yet.invalid/hooks", production=production, policy=policy)
    assert dns.lookups == ["169.254.169.254.nip.io", "partner.example", "not-yet.invalid"]


@SLOW
def test_the_allow_list_lets_an_operator_register_a_receiver_on_its_network(
    chain_app: ChainAppFactory,
) -> None:
    service = chain_app(
        "MN", passphrase=secrets.token_urlsafe(18), webhook_allowed_networks=("127.0.0.1/32",)
    )
    headers = partner_headers(service)
    allowed = service.client.post(
        "/v1/webhooks", json={"url": "http://127.0.0.1:9710/hooks"}, headers=headers
    )
    assert allowed.status_code == 201, allowed.text
    for url in ("http://127.0.0.2:9710/hooks", "http://[::1]:9710/hooks"):
        refused = service.client.post("/v1/webhooks", json={"url": url}, headers=headers)
        assert_problem(refused, 422, "invalid")


# ---------------------------------------------------------------- delivery (connect time)


def test_every_form_of_an_internal_target_is_blocked_when_the_dispatcher_connects(
    mn: ChainApp,
    receiver: Receiver,
    dispatchers: list[WebhookDispatcher],
    caplog: pytest.LogCaptureFixture,
) -> None:
    port = receiver.port
    urls = [
        f"http://127.0.0.1:{port}/hooks",
        f"http://127.1:{port}/hooks",
        f"http://2130706433:{port}/hooks",
        f"http://0x7f000001:{port}/hooks",
        f"http://localhost.:{port}/hooks",
        f"http://[::ffff:127.0.0.1]:{port}/hooks",
        f"http://[64:ff9b::a9fe:a9fe]:{port}/hooks",
        f"http://169.254.169.254.nip.io:{port}/hooks",
        f"http://rebinds.example:{port}/hooks",
    ]
    dns = Dns(
        {
            "169.254.169.254.nip.io": [["169.254.169.254"]],
            # public when the registration looks, this machine when the dispatcher does
            "rebinds.example": [[PUBLIC], ["127.0.0.1"]],
        }
    )
    # Registered while the operator allowed everything, or (the rebinding name) checked
    # and found public at registration.
    webhook_ids = [
        store_webhook(
            mn,
            url,
            AddressPolicy(() if "rebinds" in url else EVERYWHERE, resolver=dns),
        )
        for url in urls
    ]
    shared_event(mn)

    caplog.set_level("INFO", logger="registry_api.webhooks")
    report = dispatcher(mn, dispatchers, AddressPolicy(resolver=dns)).run_once()

    assert (report.delivered, report.failed_attempts) == (0, len(urls))
    assert receiver.received == []  # nothing reached this machine
    for webhook_id in webhook_ids:
        [delivery] = delivery_log(mn, webhook_id)
        assert (delivery["last_error"], delivery["last_status_code"]) == ("blocked_address", None)
        [attempt] = delivery["recent_attempts"]
        assert (attempt["outcome"], attempt["error"]) == ("network_error", "blocked_address")
        text = json.dumps(delivery)
        for leak in ("127.0.0.1", "169.254", "a9fe", "resolves", "Errno", "refused"):
            assert leak not in text
    # The operator's log says what was refused.
    details = [getattr(r, "detail", "") for r in caplog.records if r.msg == "webhook attempt"]
    assert any("rebinds.example resolves to 127.0.0.1, a loopback address" in d for d in details)
    assert any("a link-local IPv4 address in IPv6 form" in d for d in details)


@SLOW
def test_the_same_numeric_forms_do_reach_this_machine_when_the_operator_allows_it(
    mn: ChainApp, receiver: Receiver, dispatchers: list[WebhookDispatcher]
) -> None:
    """The control of the test above: the forms it blocks are real ways to reach loopback."""
    port = receiver.port
    forms = ["127.1", "2130706433", "0x7f000001", "[::ffff:127.0.0.1]"]
    webhook_ids = [
        store_webhook(mn, f"http://{host}:{port}/hooks", AddressPolicy(EVERYWHERE))
        for host in forms
    ]
    shared_event(mn)
    report = dispatcher(mn, dispatchers, AddressPolicy(LOOPBACK)).run_once()
    assert report.delivered == len(forms)
    assert sorted(int(r.headers["AEO-Webhook-Id"]) for r in receiver.received) == webhook_ids


@SLOW
def test_the_dispatcher_connects_to_the_address_it_checked_and_sends_the_host_name(
    mn: ChainApp, receiver: Receiver, dispatchers: list[WebhookDispatcher]
) -> None:
    # The system cannot resolve partner.example: delivering proves the connection went to
    # the address the policy checked, resolved once per connection, not a second lookup.
    dns = Dns({"partner.example": [["127.0.0.1"]]})
    url = f"http://partner.example:{receiver.port}/hooks"
    webhook_id = store_webhook(mn, url, AddressPolicy(LOOPBACK, resolver=dns))
    shared_event(mn)
    dns.lookups.clear()
    report = dispatcher(mn, dispatchers, AddressPolicy(LOOPBACK, resolver=dns)).run_once()
    assert report.delivered == 1
    [received] = receiver.received
    assert received.headers["Host"] == f"partner.example:{receiver.port}"
    assert received.headers["AEO-Webhook-Id"] == str(webhook_id)
    assert dns.lookups == ["partner.example"]


@SLOW
def test_a_redirect_is_not_followed(
    mn: ChainApp, receiver: Receiver, dispatchers: list[WebhookDispatcher]
) -> None:
    with Redirector(f"http://127.0.0.1:{receiver.port}/hooks") as redirector:
        webhook_id = store_webhook(mn, redirector.url, AddressPolicy(LOOPBACK))
        shared_event(mn)
        report = dispatcher(mn, dispatchers, AddressPolicy(LOOPBACK)).run_once()
    assert (report.delivered, report.failed_attempts) == (0, 1)
    assert redirector.hits == 1
    assert receiver.received == []
    [delivery] = delivery_log(mn, webhook_id)
    assert (delivery["last_status_code"], delivery["last_error"]) == (307, "http_status")
    assert delivery["recent_attempts"][0]["outcome"] == "http_error"


@SLOW
def test_tls_is_checked_against_the_host_name_while_connecting_to_the_checked_address(
    mn: ChainApp, dispatchers: list[WebhookDispatcher], tmp_path: Any
) -> None:
    authority = TestCa()
    dns = Dns({"partner.example": [["127.0.0.1"]], "impostor.example": [["127.0.0.1"]]})
    policy = AddressPolicy(LOOPBACK, resolver=dns)
    with TlsReceiver(authority, "partner.example", tmp_path) as server:
        good = store_webhook(mn, f"https://partner.example:{server.port}/hooks", policy)
        # The same server under another name: its certificate does not name that one.
        bad = store_webhook(mn, f"https://impostor.example:{server.port}/hooks", policy)
        shared_event(mn)
        report = dispatcher(mn, dispatchers, policy, authority.client_context()).run_once()
    assert (report.delivered, report.failed_attempts) == (1, 1)
    # TLS asked for each URL's name (SNI), though both connected to 127.0.0.1.
    assert sorted(server.server_names, key=str) == ["impostor.example", "partner.example"]
    assert server.hosts == [f"partner.example:{server.port}"]
    assert delivery_log(mn, good)[0]["state"] == "delivered"
    [refused] = delivery_log(mn, bad)
    assert (refused["last_error"], refused["last_status_code"]) == ("tls_error", None)
    assert "CERTIFICATE" not in json.dumps(refused).upper()


def test_failures_are_classified_without_their_text() -> None:
    refused = httpcore.ConnectError("[Errno 111] Connection refused")
    refused.__cause__ = ConnectionRefusedError(111, "Connection refused")
    assert classify(refused).value == "connection_refused"
    unresolved = httpcore.ConnectError("name")
    unresolved.__cause__ = socket.gaierror(-2, "Name or service not known")
    assert classify(unresolved).value == "dns_error"
    assert classify(httpcore.ReadTimeout("timed out")).value == "timeout"
    assert classify(BlockedAddressError("x resolves to 10.0.0.1")).value == "blocked_address"
    assert classify(httpcore.RemoteProtocolError("Server disconnected")).value == "other"


# ---------------------------------------------------------------- servers


class Redirector:
    """Answers every POST with 307 to ``location``: following it would deliver there."""

    def __init__(self, location: str) -> None:
        self.hits = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                outer.hits += 1
                self.send_response(307)
                self.send_header("Location", location)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Redirector:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(10)


CA_KEY_USAGE = x509.KeyUsage(
    digital_signature=True,
    content_commitment=False,
    key_encipherment=False,
    data_encipherment=False,
    key_agreement=False,
    key_cert_sign=True,
    crl_sign=True,
    encipher_only=False,
    decipher_only=False,
)


class TestCa:
    """A certificate authority made for one test, and the leaf certificates it signs."""

    __test__ = False  # not a test class

    def __init__(self) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "aeo test CA")])
        now = dt.datetime.now(dt.UTC)
        self.certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(hours=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(CA_KEY_USAGE, critical=True)
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(self.key.public_key()), critical=False
            )
            .sign(self.key, hashes.SHA256())
        )

    def leaf(self, host: str) -> tuple[bytes, bytes]:
        """A certificate for ``host`` and its key, PEM."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = dt.datetime.now(dt.UTC)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)]))
            .issuer_name(self.certificate.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),
                critical=False,
            )
            .sign(self.key, hashes.SHA256())
        )
        return (
            certificate.public_bytes(serialization.Encoding.PEM),
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ),
        )

    def client_context(self) -> ssl.SSLContext:
        pem = self.certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")
        return ssl.create_default_context(cadata=pem)


class TlsReceiver:
    """An HTTPS receiver on 127.0.0.1 whose certificate names ``host`` only; it records the
    server name each client asked for (SNI) and the Host header of each request."""

    def __init__(self, authority: TestCa, host: str, directory: Any) -> None:
        certificate, key = authority.leaf(host)
        (directory / "leaf.pem").write_bytes(certificate)
        (directory / "leaf.key").write_bytes(key)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(directory / "leaf.pem", directory / "leaf.key")
        self.server_names: list[str | None] = []
        self.hosts: list[str] = []
        outer = self

        def sni(_socket: Any, server_name: str | None, _context: Any) -> None:
            outer.server_names.append(server_name)

        context.sni_callback = sni

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                outer.hosts.append(self.headers["Host"])
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def get_request(self) -> Any:
                connection, address = super().get_request()
                # The handshake happens in the request's thread; a failed one ends there.
                return context.wrap_socket(
                    connection, server_side=True, do_handshake_on_connect=False
                ), address

            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # a refused handshake is the point of one of the tests

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> TlsReceiver:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(10)
