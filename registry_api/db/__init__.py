"""The registry's database: models per entity, engines, sessions and migrations."""

from .access import ApiKey, Role, User
from .base import NUL_REPLACEMENT, Base, UTCDateTime, utc_now
from .certificates import Certificate, CertificateEvent, LocalStatus
from .chain_index import (
    Authority,
    AuthorityAccount,
    IndexedSigningKey,
    IndexerCursor,
    Mra,
    MraParty,
)
from .credentials import StatusList, StatusListEntry
from .feed import FeedEntry
from .imports import ImportJob, ImportRow, ImportState, RowOutcome
from .kpis import BorderCheckCount, KpiTarget
from .outbox import OPEN_OPERATION_STATES, Operation, OperationState
from .people import (
    AccessEvent,
    AccessEventKind,
    ConsoleSession,
    Person,
    SessionStage,
    SignInMethod,
    SignInSource,
)
from .session import (
    insert_if_absent,
    make_engine,
    make_session_factory,
    normalise_url,
    upgrade_database,
)
from .webhooks import (
    AttemptOutcome,
    DeliveryState,
    Webhook,
    WebhookDelivery,
    WebhookDeliveryAttempt,
)

__all__ = [
    "NUL_REPLACEMENT",
    "OPEN_OPERATION_STATES",
    "AccessEvent",
    "AccessEventKind",
    "ApiKey",
    "AttemptOutcome",
    "Authority",
    "AuthorityAccount",
    "Base",
    "BorderCheckCount",
    "Certificate",
    "CertificateEvent",
    "ConsoleSession",
    "DeliveryState",
    "FeedEntry",
    "ImportJob",
    "ImportRow",
    "ImportState",
    "IndexedSigningKey",
    "IndexerCursor",
    "KpiTarget",
    "LocalStatus",
    "Mra",
    "MraParty",
    "Operation",
    "OperationState",
    "Person",
    "Role",
    "RowOutcome",
    "SessionStage",
    "SignInMethod",
    "SignInSource",
    "StatusList",
    "StatusListEntry",
    "UTCDateTime",
    "User",
    "Webhook",
    "WebhookDelivery",
    "WebhookDeliveryAttempt",
    "insert_if_absent",
    "make_engine",
    "make_session_factory",
    "normalise_url",
    "upgrade_database",
    "utc_now",
]
