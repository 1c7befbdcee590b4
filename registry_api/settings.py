"""The registry service's configuration: one typed class, read from ``AEO_*`` variables.

Outside development the service refuses to start with a missing or placeholder secret
(the key-file passphrase, a database password), the way the FastAPI full-stack template's
config does. A key-file passphrase that is set must have at least
:data:`MIN_PASSPHRASE_LENGTH` characters in every environment, development included: the
demo's generated passphrases have 43. Tests build :class:`Settings` directly or override
:func:`get_settings`.
"""

from __future__ import annotations

import json
import os
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal, Self

from pydantic import Field, IPvAnyNetwork, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from contracts.domain import ids

from .credentials import CredentialError, normalise_public_url
from .errors import ConfigurationError
from .faults import CRASH_AT_ENV, refusal_in_production
from .hsm import (
    DEFAULT_OPERATOR_KEY_LABEL,
    DEFAULT_PKCS11_MODULE,
    DEFAULT_SIGNING_KEY_LABEL,
    TOKEN_LABEL_MAX_BYTES,
    KeyBackend,
)
from .keystore import MIN_PASSPHRASE_LENGTH

#: Values that mean "nobody chose a secret yet"; compared case-insensitively.
PLACEHOLDER_SECRETS = frozenset(
    {"changethis", "changeme", "change-me", "password", "passphrase", "secret", "test", "admin"}
)


class Environment(StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"


class ChainKind(StrEnum):
    MEMORY = "memory"
    ANVIL = "anvil"
    RPC = "rpc"


LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]


class Settings(BaseSettings):
    """Everything one administration's registry service needs to know at start-up."""

    model_config = SettingsConfigDict(
        env_prefix="AEO_", extra="ignore", frozen=True, validate_default=True
    )

    authority: str = Field(
        description="This administration's authority code (2 to 4 upper-case letters).",
        examples=["MN"],
    )
    environment: Environment = Environment.DEVELOPMENT
    data_dir: Path | None = Field(
        default=None, description="Defaults to ./data/<authority> (relative to the cwd)."
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; defaults to a SQLite file in data_dir. "
        "postgresql://... URLs use the psycopg (3) driver.",
    )

    chain: ChainKind = ChainKind.ANVIL
    rpc_url: str | None = None
    deployment_file: Path | None = Field(
        default=None,
        description="Deployed contract addresses; defaults to data_dir/deployment.json.",
    )

    operator_key_file: Path | None = Field(
        default=None, description="Encrypted Ethereum keystore JSON; defaults to data_dir."
    )
    signing_key_file: Path | None = Field(
        default=None, description="Encrypted PKCS#8 PEM document-signing key; defaults to data_dir."
    )
    passphrase: SecretStr | None = Field(
        default=None, description="Passphrase of both key files (or use passphrase_file)."
    )
    passphrase_file: Path | None = Field(
        default=None, description="A file whose content (one line) is the key-file passphrase."
    )

    # A quarter of the shortest block time consortium networks run (QBFT at 1 s): a
    # change reaches this service's reads and partner feed within a block and a quarter
    # second. An idle poll is one eth_blockNumber call to our own node (a full pass only
    # when the head moved), so polling this often costs next to nothing.
    indexer_poll_interval: float = Field(
        default=0.25,
        gt=0,
        le=3600,
        description="Seconds between looks at the chain head when the indexer is idle.",
    )
    indexer_max_lag_blocks: int = Field(
        default=20, ge=0, description="/readyz fails when the indexer is further behind the head."
    )
    # 250 certificates use 7.2 M gas (8.6 M with the sender's head room), a third of anvil's
    # 30 M block and far below the consortium genesis limit; 100 made a 10,000-row import
    # 35 % slower on anvil (each transaction costs an estimate, a signature, a receipt and
    # an indexer pass); 500 saved little more and needs 17 M.
    import_batch_size: int = Field(
        default=250,
        ge=1,
        le=500,
        description="Certificates per issueBatch transaction of a bulk import (250 use "
        "about 8.6 M gas with the sender's head room: lower it below a 10 M block gas limit).",
    )
    sender_poll_interval: float = Field(
        default=0.5, gt=0, le=60, description="Seconds between passes of the outbox sender."
    )
    run_workers: bool = Field(
        default=True,
        description="Run the background work (outbox sender, indexer, imports, webhooks) in "
        "this process (false: an HTTP-only process of aeo serve --workers N, or tests that "
        "drive the work by hand).",
    )
    rate_limit_per_minute: int = Field(
        default=600, gt=0, description="Sustained requests per minute allowed per API key."
    )
    rate_limit_burst: int = Field(
        default=60, gt=0, description="Requests one API key may send at once before limiting."
    )
    public_lookup_url: str | None = Field(
        default=None,
        pattern=r"^https?://[^\s?#]+$",
        description="Where the public reaches this registry's /public/lookup page; the PDF's "
        "verification line points there with the certificate number (unset: a placeholder).",
    )
    public_lookup_per_minute: int = Field(
        default=30, gt=0, description="Public lookups per minute allowed per client address."
    )
    public_lookup_burst: int = Field(
        default=10, gt=0, description="Public lookups one client address may send at once."
    )
    log_level: LogLevel = "INFO"
    # The credentials' issuer (did:web) and the status lists' addresses derive from it
    # (docs/credentials.md). Unset, they follow each request's Host header: fine on a
    # laptop, but a signed credential should not name whatever host a client sent.
    public_url: str | None = Field(
        default=None,
        description="The https URL this registry is reached at (https://registry.customs.mn): "
        "the W3C credentials' issuer did:web and their status lists' URLs derive from it. "
        "Unset: the URL each request came to (development).",
    )
    document_language: str = Field(
        default="en",
        description="The issuer's language printed on PDF certificates beside English: en, mn, "
        "ru, kk, ko or zh-Hans.",
    )

    # The partner feed's live stream (GET /v1/feed/stream): AEO_FEED_STREAM_*.
    feed_stream_poll_interval: float = Field(
        default=1.0, gt=0, le=60, description="Seconds between looks for new entries."
    )
    feed_stream_heartbeat: float = Field(
        default=15.0,
        gt=0,
        le=300,
        description="Seconds of silence after which the stream sends a comment line, so "
        "proxies keep the connection open.",
    )
    feed_stream_max_seconds: float = Field(
        default=900.0,
        gt=0,
        le=86400,
        description="Seconds after which the service ends a stream; clients reconnect with "
        "Last-Event-ID and lose nothing.",
    )

    # The webhook dispatcher (registry_api.workers.webhooks): AEO_WEBHOOK_*.
    webhook_timeout: float = Field(
        default=10.0, gt=0, le=120, description="Seconds per network step of one attempt."
    )
    webhook_backoff_base: float = Field(
        default=5.0, gt=0, description="Seconds before the retry after a first failure."
    )
    webhook_backoff_cap: float = Field(
        default=3600.0, gt=0, description="Longest delay in seconds between two attempts."
    )
    webhook_disable_after_failures: int = Field(
        default=80,
        ge=1,
        description="Failures in a row that disable a webhook (80 with the other defaults: "
        "35 to 70 hours of retrying).",
    )
    webhook_poll_interval: float = Field(
        default=1.0, gt=0, le=60, description="Seconds between rounds when there is no work."
    )
    webhook_batch: int = Field(
        default=100, ge=1, description="Entries one webhook may receive per round (fairness)."
    )
    webhook_workers: int = Field(default=4, ge=1, le=64, description="Webhooks served in parallel.")
    # Deliveries reach public addresses only (services.webhooks.AddressPolicy); these
    # networks are the operator's explicit exceptions. Comma-separated in the environment.
    webhook_allowed_networks: Annotated[tuple[IPvAnyNetwork, ...], NoDecode] = Field(
        default=(),
        description="Networks webhooks may reach although they are not public, in CIDR form "
        "(127.0.0.1/32, 10.20.0.0/16, ::1/128): a partner's receiver over a private link, "
        "a test or demo receiver on loopback. Empty: public addresses only.",
    )

    # Keys in a hardware security module (registry_api.hsm): AEO_KEY_BACKEND, AEO_HSM_*.
    key_backend: KeyBackend = Field(
        default=KeyBackend.FILE,
        description="Where the private keys live: 'file' (the encrypted key files) or "
        "'pkcs11' (a token of a hardware security module; the keys never leave it).",
    )
    hsm_module: Path = Field(
        default=DEFAULT_PKCS11_MODULE,
        description="The PKCS#11 module (shared library) of the HSM; SoftHSM2's by default.",
    )
    hsm_token_label: str | None = Field(
        default=None,
        min_length=1,
        description="The label of the token holding both keys; required with pkcs11.",
    )
    hsm_signing_key_label: str = Field(
        default=DEFAULT_SIGNING_KEY_LABEL,
        min_length=1,
        description="The label of the document-signing key (P-256) in the token.",
    )
    hsm_operator_key_label: str = Field(
        default=DEFAULT_OPERATOR_KEY_LABEL,
        min_length=1,
        description="The label of the operator key (secp256k1) in the token.",
    )
    hsm_pin: SecretStr | None = Field(
        default=None, description="The token's user PIN (or use hsm_pin_file)."
    )
    hsm_pin_file: Path | None = Field(
        default=None, description="A file whose content (one line) is the token's user PIN."
    )

    @model_validator(mode="after")
    def _check_pkcs11(self) -> Self:
        if self.hsm_pin is not None and not self.hsm_pin.get_secret_value():
            object.__setattr__(self, "hsm_pin", None)  # AEO_HSM_PIN= means not set
        if self.hsm_pin is not None and self.hsm_pin_file is not None:
            raise ValueError("set AEO_HSM_PIN or AEO_HSM_PIN_FILE, not both")
        if self.hsm_pin_file is not None:
            try:
                pin = self.hsm_pin_file.read_text(encoding="utf-8").rstrip("\r\n")
            except (OSError, UnicodeDecodeError) as exc:
                reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
                raise ValueError(
                    f"hsm_pin_file {str(self.hsm_pin_file)!r} cannot be read: {reason}"
                ) from None
            if not pin:
                raise ValueError(f"hsm_pin_file {str(self.hsm_pin_file)!r} is empty")
            object.__setattr__(self, "hsm_pin", SecretStr(pin))
        if self.key_backend is KeyBackend.PKCS11:
            if self.hsm_token_label is None:
                raise ValueError("AEO_KEY_BACKEND=pkcs11 needs AEO_HSM_TOKEN_LABEL")
            if len(self.hsm_token_label.encode("utf-8")) > TOKEN_LABEL_MAX_BYTES:
                raise ValueError(
                    f"hsm_token_label is longer than {TOKEN_LABEL_MAX_BYTES} bytes, "
                    "which no PKCS#11 token label can be"
                )
            if self.hsm_pin is None:
                raise ValueError(
                    "AEO_KEY_BACKEND=pkcs11 needs the token's PIN: set AEO_HSM_PIN or "
                    "AEO_HSM_PIN_FILE"
                )
        return self

    @field_validator("authority")
    @classmethod
    def _authority_is_a_code(cls, value: str) -> str:
        ids.authority_code(value)  # raises ValueError naming the rule
        return value

    @field_validator("document_language")
    @classmethod
    def _document_language_has_a_catalogue(cls, value: str) -> str:
        from verifier.i18n import LanguageError, locale_of

        try:
            return locale_of(value)
        except LanguageError as exc:
            raise ValueError(str(exc)) from exc

    @field_validator("webhook_allowed_networks", mode="before")
    @classmethod
    def _split_networks(cls, value: object) -> object:
        if isinstance(value, str):
            if value.lstrip().startswith("["):
                return json.loads(value)  # a JSON list, as pydantic-settings reads lists
            return tuple(part for part in value.replace(",", " ").split() if part)
        return value

    @field_validator("passphrase")
    @classmethod
    def _passphrase_is_long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        # Empty means "not set" (AEO_PASSPHRASE= in an env file): production refuses that
        # below, and development runs without key files until one is set.
        if value is not None and value.get_secret_value():
            _check_passphrase(value.get_secret_value())
        return value

    @field_validator("public_url")
    @classmethod
    def _public_url_is_absolute(cls, value: str | None) -> str | None:
        if not value:
            return None  # AEO_PUBLIC_URL= means not set
        try:
            return normalise_public_url(value)
        except CredentialError as exc:
            raise ValueError(f"public_url: {exc}") from None

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_log_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _fill_defaults_and_check(self) -> Self:
        # The model is frozen so that nobody mutates settings at run time; defaults that
        # depend on other fields are filled here, once, before freezing matters.
        data_dir = self.data_dir or Path("data") / self.authority.lower()
        object.__setattr__(self, "data_dir", data_dir)
        if self.database_url is None:
            object.__setattr__(self, "database_url", f"sqlite:///{data_dir / 'registry.db'}")
        defaults = {
            "deployment_file": data_dir / "deployment.json",
            "operator_key_file": data_dir / "operator-key.json",
            "signing_key_file": data_dir / "signing-key.pem",
        }
        for name, default in defaults.items():
            if getattr(self, name) is None:
                object.__setattr__(self, name, default)

        if self.passphrase is not None and self.passphrase_file is not None:
            raise ValueError("set AEO_PASSPHRASE or AEO_PASSPHRASE_FILE, not both")
        if self.passphrase_file is not None:
            secret = _read_secret_file(self.passphrase_file)
            _check_passphrase(secret, f"passphrase_file {str(self.passphrase_file)!r}: ")
            object.__setattr__(self, "passphrase", SecretStr(secret))

        try:
            url = make_url(self.db_url)
        except ArgumentError as exc:
            raise ValueError(f"database_url is not a database URL: {exc}") from None
        if url.get_backend_name() not in {"sqlite", "postgresql"}:
            raise ValueError(
                f"database_url: only sqlite and postgresql are supported, got {url.drivername!r}"
            )
        if self.chain is ChainKind.RPC and not self.rpc_url:
            raise ValueError("rpc_url is required when chain is 'rpc'")
        if self.environment is Environment.PRODUCTION:
            self._refuse_placeholders()
        return self

    def _refuse_placeholders(self) -> None:
        passphrase = self.passphrase.get_secret_value() if self.passphrase else ""
        if not passphrase.strip():
            raise ValueError(
                "passphrase is required in production (AEO_PASSPHRASE or AEO_PASSPHRASE_FILE)"
            )
        password = make_url(self.db_url).password
        if password is not None and (not str(password).strip() or _is_placeholder(str(password))):
            raise ValueError("database_url carries a placeholder password; set a real one")
        if self.chain is ChainKind.MEMORY:
            raise ValueError("chain 'memory' keeps nothing; it is not allowed in production")
        # Not a setting (a test hook, docs/operations.md): read from the process environment.
        if os.environ.get(CRASH_AT_ENV, "").strip():
            raise ValueError(refusal_in_production())

    # Typed accessors: the validator above guarantees these are set.

    @property
    def data_path(self) -> Path:
        assert self.data_dir is not None
        return self.data_dir

    @property
    def db_url(self) -> str:
        assert self.database_url is not None
        return self.database_url

    @property
    def operator_key_path(self) -> Path:
        assert self.operator_key_file is not None
        return self.operator_key_file

    @property
    def signing_key_path(self) -> Path:
        assert self.signing_key_file is not None
        return self.signing_key_file

    @property
    def deployment_path(self) -> Path:
        assert self.deployment_file is not None
        return self.deployment_file

    def key_passphrase(self) -> str:
        """The key-file passphrase, or ConfigurationError if none is configured."""
        if self.passphrase is None or not self.passphrase.get_secret_value():
            raise ConfigurationError(
                "no key-file passphrase configured: set AEO_PASSPHRASE or AEO_PASSPHRASE_FILE"
            )
        return self.passphrase.get_secret_value()

    # ------------------------------------------------ the officers' console (AEO_CONSOLE_*)
    # Sign-in for people: local accounts (`aeo users`) and OpenID Connect single sign-on
    # (docs/console.md). Checked together by _check_console below.
    console_local_accounts: bool = Field(
        default=True,
        description="People may sign in with local accounts (aeo users); false: only "
        "through the OpenID Connect provider, which must then be configured.",
    )
    console_oidc_issuer: str | None = Field(
        default=None,
        description="The OpenID Connect provider's issuer URL (its discovery document is "
        "<issuer>/.well-known/openid-configuration); unset: no single sign-on.",
    )
    console_oidc_provider_name: str | None = Field(
        default=None,
        max_length=64,
        description="What the sign-in page's button calls the provider (Sign in with ...).",
    )
    console_oidc_client_id: str | None = Field(
        default=None, description="The console's client id at the provider."
    )
    console_oidc_client_secret: SecretStr | None = Field(
        default=None, description="The console's client secret (or use the _file setting)."
    )
    console_oidc_client_secret_file: Path | None = Field(
        default=None, description="A file whose content (one line) is the client secret."
    )
    console_oidc_scopes: str = Field(
        default="openid profile email",
        description="Scopes asked for, space-separated; openid is always among them.",
    )
    console_oidc_role_claim: str = Field(
        default="roles",
        min_length=1,
        description="The claim (of the ID token, else of the userinfo answer) whose values "
        "map to roles; a dotted path reaches into objects (realm_access.roles).",
    )
    console_oidc_role_mapping: Annotated[dict[str, str], NoDecode] = Field(
        default_factory=dict,
        description="Claim value -> role, comma-separated value=role pairs "
        "(aeo-issuing=issuing_officer,aeo-audit=auditor); partner roles name the partner "
        "administration (kr-risk=partner:KR). A person with no mapped value is refused.",
    )
    console_session_idle_minutes: int = Field(
        default=30,
        ge=1,
        le=24 * 60,
        description="A console session ends after this many minutes without a request.",
    )
    console_session_absolute_hours: float = Field(
        default=12.0,
        gt=0,
        le=7 * 24,
        description="A console session ends this many hours after its sign-in, used or not.",
    )
    console_behind_tls: bool = Field(
        default=False,
        description="The service is reached over HTTPS through a proxy that terminates "
        "TLS: the console's cookies are Secure even on a plain-HTTP request.",
    )

    # The signed status snapshot border posts sync from (issue 15; docs/snapshot.md).
    snapshot_interval: float = Field(
        default=10.0,
        gt=0,
        le=86400,
        description="Seconds between two looks for a moved index; at most one snapshot "
        "(and its deltas) is published per interval, none while the index stands still.",
    )
    snapshot_deltas_kept: int = Field(
        default=8,
        ge=0,
        le=64,
        description="Earlier snapshot blocks a delta to the latest is offered from.",
    )
    snapshot_history_days: float = Field(
        default=30.0,
        gt=0,
        le=3650,
        description="Earlier snapshot states older than this many days are forgotten (on "
        "disk and in memory): a post still at one fetches a full snapshot.",
    )
    snapshot_dir: Path | None = Field(
        default=None,
        description="Where the published snapshot, its deltas and their index are written "
        "(default: <data dir>/snapshots).",
    )

    @property
    def snapshot_path(self) -> Path:
        return self.snapshot_dir or self.data_path / "snapshots"

    @field_validator("console_oidc_role_mapping", mode="before")
    @classmethod
    def _split_role_mapping(cls, value: object) -> object:
        if isinstance(value, str):
            if value.lstrip().startswith("{"):
                return json.loads(value)
            pairs: dict[str, str] = {}
            for part in (item.strip() for item in value.split(",")):
                if not part:
                    continue
                claim, separator, role = part.rpartition("=")
                if not separator or not claim.strip():
                    raise ValueError(f"console_oidc_role_mapping: {part!r} is not value=role")
                pairs[claim.strip()] = role.strip()
            return pairs
        return value

    @model_validator(mode="after")
    def _check_console(self) -> Self:
        # Imported here: the console package imports this module.
        from .console.roles import parse_role_target

        for value, target in self.console_oidc_role_mapping.items():
            try:
                parse_role_target(target, own_authority=self.authority)
            except ValueError as exc:
                raise ValueError(f"console_oidc_role_mapping: {value!r}: {exc}") from None
        if self.console_oidc_client_secret is not None and self.console_oidc_client_secret_file:
            raise ValueError(
                "set AEO_CONSOLE_OIDC_CLIENT_SECRET or AEO_CONSOLE_OIDC_CLIENT_SECRET_FILE, "
                "not both"
            )
        if self.console_oidc_client_secret_file is not None:
            path = self.console_oidc_client_secret_file
            try:
                secret = path.read_text(encoding="utf-8").rstrip("\r\n")
            except OSError as exc:
                raise ValueError(
                    f"console_oidc_client_secret_file {str(path)!r} cannot be read: {exc.strerror}"
                ) from None
            object.__setattr__(self, "console_oidc_client_secret", SecretStr(secret))
        issuer = self.console_oidc_issuer
        if issuer is None:
            if not self.console_local_accounts:
                raise ValueError(
                    "console_local_accounts is false and no console_oidc_issuer is set: "
                    "nobody could sign in to the console"
                )
            return self
        if not issuer.startswith(("https://", "http://")):
            raise ValueError(f"console_oidc_issuer must be an http(s) URL, got {issuer!r}")
        if self.environment is Environment.PRODUCTION and not issuer.startswith("https://"):
            raise ValueError("console_oidc_issuer must be an https URL in production")
        if not self.console_oidc_client_id:
            raise ValueError("console_oidc_client_id is required with console_oidc_issuer")
        if not self.console_oidc_role_mapping:
            raise ValueError(
                "console_oidc_role_mapping is required with console_oidc_issuer: without it "
                "nobody who signs in through the provider has a role"
            )
        client_secret = self.console_oidc_client_secret
        if (
            self.environment is Environment.PRODUCTION
            and client_secret is not None
            and _is_placeholder(client_secret.get_secret_value())
        ):
            raise ValueError("console_oidc_client_secret is a placeholder; set the real one")
        return self


def _is_placeholder(value: str) -> bool:
    return value.strip().lower() in PLACEHOLDER_SECRETS


def _check_passphrase(value: str, source: str = "") -> None:
    """Refuse a key-file passphrase a guesser would find: placeholders (all shorter than
    the minimum anyway) and anything under :data:`MIN_PASSPHRASE_LENGTH` characters."""
    if _is_placeholder(value) or len(value.strip()) < MIN_PASSPHRASE_LENGTH:
        raise ValueError(
            f"{source}passphrase is a placeholder or shorter than {MIN_PASSPHRASE_LENGTH} "
            "characters; choose a real one (every environment)"
        )


def _read_secret_file(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ValueError(f"passphrase_file {str(path)!r} cannot be read: {exc.strerror}") from None
    # Secret files (Docker/Kubernetes secrets, `echo > file`) usually end with a newline
    # that is not part of the secret.
    return text.rstrip("\r\n")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, read once from the environment."""
    return Settings()  # type: ignore[call-arg]  # pydantic-settings fills fields from env
