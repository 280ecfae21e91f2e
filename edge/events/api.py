"""The two event endpoints, called through the app's `httpx.AsyncClient` and the events budget.

Every answer becomes a `PostResult` the sender can act on without knowing HTTP: SENT (2xx),
WAIT (our budget or Klaviyo's Retry-After: try again later, not a failure), RETRY (5xx, timeout,
transport error, no token: back off) or FAILED (any other 4xx: permanent, with Klaviyo's reason).
A 401 refreshes the access token once and repeats the call.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

import httpx
import msgspec

from edge.events.budget import EventsBudget
from klaviyo import JSON_API, Tier, TokenSource, retry_after_seconds
from oauth.errors import NotConnected

EVENTS_PATH = "api/events"
BULK_PATH = "api/event-bulk-create-jobs"
_BULK_ENTRY = re.compile(r"^/data/attributes/events-bulk-create/data/(\d+)(/|$)")


class Outcome(StrEnum):
    SENT = "sent"
    WAIT = "wait"
    RETRY = "retry"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class PostResult:
    outcome: Outcome
    error: str | None = None
    wait_s: float = 0.0
    bad_entry: int | None = None  # a bulk job refused because of this one entry


class _Error(msgspec.Struct):
    detail: str | None = None
    title: str | None = None
    source: dict[str, str] | None = None


class _Errors(msgspec.Struct):
    errors: list[_Error] = []


_ERRORS = msgspec.json.Decoder(_Errors)


class EventsApi:
    def __init__(
        self,
        http: httpx.AsyncClient,
        tokens: TokenSource,
        budget: EventsBudget,
        *,
        api_base: str = "https://a.klaviyo.com",
        revision: str = "2026-10-15",
        timeout_s: float = 10.0,
    ) -> None:
        self._http = http
        self._tokens = tokens
        self.budget = budget
        self._base = httpx.URL(api_base.rstrip("/") + "/")
        self._revision = revision
        self._timeout = timeout_s

    async def post_event(self, site_id: str, account: str, body: bytes) -> PostResult:
        return await self._post(site_id, account, Tier.EVENTS, EVENTS_PATH, body)

    async def post_bulk(self, site_id: str, account: str, body: bytes) -> PostResult:
        return await self._post(site_id, account, Tier.BULK_EVENTS, BULK_PATH, body)

    async def _post(self, site_id: str, account: str, tier: Tier, path: str, body: bytes) -> PostResult:
        url = self._base.join(path)
        token: str | None = None
        refreshed = False
        while True:
            refusal = self.budget.take_now(account, tier)
            if refusal is not None:
                return PostResult(Outcome.WAIT, wait_s=refusal.retry_after_s)
            try:
                if token is None:
                    token = await self._tokens.access_token(site_id)
                elif not refreshed:
                    refreshed = True
                    token = await self._tokens.refresh_after_unauthorized(site_id, token)
            except NotConnected:
                return PostResult(Outcome.FAILED, "not_connected: the site has no Klaviyo connection")
            except Exception as exc:  # the token source failing in any way: try again later
                return PostResult(Outcome.RETRY, f"no access token: {type(exc).__name__}: {exc}"[:300])
            headers = {
                "Authorization": f"Bearer {token}",
                "Accept": JSON_API,
                "Content-Type": JSON_API,
                "revision": self._revision,
            }
            try:
                response = await self._http.post(url, content=body, headers=headers, timeout=self._timeout)
            except httpx.TimeoutException:
                return PostResult(Outcome.RETRY, f"timeout: no answer from Klaviyo in {self._timeout:g} s")
            except httpx.TransportError as exc:
                return PostResult(Outcome.RETRY, f"transport error: {type(exc).__name__}")
            status = response.status_code
            if 200 <= status < 300:
                return PostResult(Outcome.SENT)
            if status == 401 and not refreshed:
                continue
            if status == 429:
                wait_s = retry_after_seconds(response.headers.get("Retry-After"), 1.0)
                self.budget.block_now(account, wait_s)
                return PostResult(Outcome.WAIT, f"429 from Klaviyo, Retry-After {wait_s:g} s", wait_s)
            if status == 401 or status >= 500 or status == 408:
                return PostResult(Outcome.RETRY, f"HTTP {status} from Klaviyo{_detail(response)}")
            return PostResult(
                Outcome.FAILED,
                f"HTTP {status} from Klaviyo{_detail(response)}",
                bad_entry=_bad_entry(response),
            )


def _errors(response: httpx.Response) -> list[_Error]:
    try:
        return _ERRORS.decode(response.content).errors
    except msgspec.DecodeError:
        return []


def _detail(response: httpx.Response) -> str:
    errors = _errors(response)
    if not errors:
        return ""
    first = errors[0]
    text = first.detail or first.title or ""
    pointer = (first.source or {}).get("pointer")
    return (f": {text}" + (f" (at {pointer})" if pointer else ""))[:300]


def _bad_entry(response: httpx.Response) -> int | None:
    for error in _errors(response):
        match = _BULK_ENTRY.match((error.source or {}).get("pointer", ""))
        if match:
            return int(match.group(1))
    return None
