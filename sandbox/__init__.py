"""A fake ("sandbox") Klaviyo: OAuth and the REST endpoints kx-edge uses, built from Klaviyo's
documented behaviour (docs/KLAVIYO.md), for tests, benchmarks and `kx-edge serve --demo`.

    state = demo_state(client_id, client_secret, redirect_uri)
    app = create_fake_klaviyo(state)                 # mount it anywhere, or:
    with running_fake_klaviyo(state) as base_url:    # a real server on 127.0.0.1
        ...
    state.calls.count("/api/profiles")               # what was called
    state.faults.inject("/api/profiles", FaultKind.UNAVAILABLE, times=2)
"""

from sandbox.app import create_fake_klaviyo
from sandbox.calls import CallLog, CallRecord
from sandbox.faults import ANY_ROUTE, Fault, FaultKind, FaultPlan
from sandbox.oauth_records import Scope, TokenSet, s256
from sandbox.ratelimit import DEFAULT_LIMITS, Tier, TierLimit
from sandbox.records import Account, Profile, RecordedEvent, Segment
from sandbox.sample_data import (
    DEMO_ACCOUNT_ID,
    DEMO_PEOPLE,
    DEMO_SEGMENTS,
    DemoPerson,
    bulk_state,
    demo_kx,
    demo_segment_id,
    demo_state,
)
from sandbox.server import FakeServer, running_fake_klaviyo, serve_fake_klaviyo
from sandbox.state import SandboxState

__all__ = [
    "ANY_ROUTE",
    "DEFAULT_LIMITS",
    "DEMO_ACCOUNT_ID",
    "DEMO_PEOPLE",
    "DEMO_SEGMENTS",
    "Account",
    "CallLog",
    "CallRecord",
    "DemoPerson",
    "FakeServer",
    "Fault",
    "FaultKind",
    "FaultPlan",
    "Profile",
    "RecordedEvent",
    "SandboxState",
    "Scope",
    "Segment",
    "Tier",
    "TierLimit",
    "TokenSet",
    "bulk_state",
    "create_fake_klaviyo",
    "demo_kx",
    "demo_segment_id",
    "demo_state",
    "running_fake_klaviyo",
    "s256",
    "serve_fake_klaviyo",
]
