"""The Klaviyo REST client: one `httpx.AsyncClient` per app, passed in; JSON:API read with msgspec.

Every HTTP request (retries and pages included) first takes a call from the `RateGate` for its
account and tier, so the client never bursts past the budget. Failures map onto `errors.py`:
429 blocks the whole account for `Retry-After`; 5xx, timeouts and transport errors are retried with
jittered backoff while the deadline and the attempt budget allow; 401 refreshes the token once.
"""

from __future__ import annotations

import asyncio
import email.utils
import random
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol, TypeVar
from urllib.parse import quote

import httpx
import msgspec

from klaviyo import errors
from klaviyo.filters import equals, quote_value
from klaviyo.gate import LocalRateGate
from klaviyo.models import (
    AccountPage,
    IdPage,
    KlaviyoAccount,
    KlaviyoSegment,
    Links,
    MemberPage,
    SegmentPage,
)
from klaviyo.types import ConnectionRef, RateGate, Tier, TokenSource

JSON_API = "application/vnd.api+json"


class _Paged(Protocol):
    @property
    def links(self) -> Links | None: ...


_T = TypeVar("_T")
_P = TypeVar("_P", bound=_Paged)
_ID_PAGE = msgspec.json.Decoder(IdPage)
_SEGMENT_PAGE = msgspec.json.Decoder(SegmentPage)
_ACCOUNT_PAGE = msgspec.json.Decoder(AccountPage)


def _decode(decoder: msgspec.json.Decoder[_T], body: bytes) -> _T:
    try:
        return decoder.decode(body)
    except msgspec.DecodeError as exc:
        raise errors.ProtocolError(f"unreadable Klaviyo answer: {exc}") from exc


@dataclass(slots=True)
class ClientStats:
    """Counters for /metrics: requests sent per tier, and how they ended (`outcomes`: by HTTP
    status or "refused"; `calls`: the same per (tier, status), status also "timeout" or
    "transport_error")."""

    requests: Counter[str] = field(default_factory=Counter)
    outcomes: Counter[str] = field(default_factory=Counter)
    calls: Counter[tuple[str, str]] = field(default_factory=Counter)


def retry_after_seconds(value: str | None, default: float, *, cap: float = 3600.0) -> float:
    """`Retry-After` as seconds: Klaviyo sends an integer; an HTTP date is accepted too."""
    if value:
        try:
            return min(cap, max(0.0, float(value)))
        except ValueError:
            try:
                when = email.utils.parsedate_to_datetime(value)
            except (TypeError, ValueError):
                return default
            return min(cap, max(0.0, when.timestamp() - time.time()))
    return default


class KlaviyoClient:
    """Klaviyo's REST API as kx-edge uses it. `deadline` arguments are `time.monotonic()` instants."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        tokens: TokenSource,
        *,
        gate: RateGate | None = None,
        api_base: str = "https://a.klaviyo.com",
        revision: str = "2026-10-15",
        request_timeout_s: float = 2.0,
        max_attempts: int = 3,
        backoff_base_s: float = 0.05,
        backoff_max_s: float = 1.0,
        default_retry_after_s: float = 1.0,
        max_pages: int = 100,
        default_deadline_s: float = 10.0,
    ) -> None:
        self._http = http
        self._tokens = tokens
        self.gate: RateGate = gate if gate is not None else LocalRateGate()
        self._base = httpx.URL(api_base.rstrip("/") + "/")
        self._revision = revision
        self._timeout = request_timeout_s
        self._max_attempts = max_attempts
        self._backoff_base = backoff_base_s
        self._backoff_max = backoff_max_s
        self._default_retry_after = default_retry_after_s
        self._max_pages = max_pages
        self._default_deadline = default_deadline_s
        self.stats = ClientStats()

    # --- endpoints -------------------------------------------------------------------------

    async def get_account(self, site_id: str, *, deadline: float | None = None) -> KlaviyoAccount:
        """`GET /api/accounts`: the connected account (1/s, 15/min: call it at connect only)."""
        body = await self._get(
            f"site:{site_id}", site_id, Tier.ACCOUNTS, "api/accounts", None, deadline, None, None
        )
        page = _decode(_ACCOUNT_PAGE, body)
        if not page.data:
            raise errors.ProtocolError("GET /api/accounts answered no account")
        account = page.data[0]
        return KlaviyoAccount(
            id=account.id,
            organization_name=account.attributes.contact_information.organization_name,
            test_account=account.attributes.test_account,
        )

    async def list_segments(
        self,
        conn: ConnectionRef,
        *,
        names: Sequence[str] | None = None,
        deadline: float | None = None,
        calls: Counter[str] | None = None,
    ) -> list[KlaviyoSegment]:
        """`GET /api/segments`, every page; `names` filters with `any(name,[...])`."""
        params: dict[str, str] = {}
        if names:
            params["filter"] = "any(name,[" + ",".join(quote_value(n) for n in names) + "])"
        pages = await self._pages(
            _SEGMENT_PAGE, conn, Tier.SEGMENTS, "api/segments", params, deadline, calls, None
        )
        return [
            KlaviyoSegment(s.id, s.attributes.name, s.attributes.is_active, s.attributes.is_starred)
            for page in pages
            for s in page.data
        ]

    async def find_profile_id(
        self,
        conn: ConnectionRef,
        kx: str,
        *,
        deadline: float | None = None,
        calls: Counter[str] | None = None,
        max_attempts: int | None = None,
    ) -> str | None:
        """The id of the profile whose `_kx` is `kx`, or None when no profile has it."""
        params = {"filter": equals("_kx", kx), "fields[profile]": "id", "page[size]": "1"}
        body = await self._get(
            conn.account_id, conn.site_id, Tier.PROFILES, "api/profiles", params, deadline, calls,
            max_attempts,
        )  # fmt: skip
        page = _decode(_ID_PAGE, body)
        return page.data[0].id if page.data else None

    async def profile_segment_ids(
        self,
        conn: ConnectionRef,
        profile_id: str,
        *,
        deadline: float | None = None,
        calls: Counter[str] | None = None,
        max_attempts: int | None = None,
    ) -> frozenset[str]:
        """Ids of every segment the profile is in (3/s, 60/min). Lists and tags never count."""
        path = f"api/profiles/{quote(profile_id, safe='')}/relationships/segments"
        pages = await self._pages(
            _ID_PAGE, conn, Tier.PROFILE_SEGMENTS, path, None, deadline, calls, max_attempts
        )
        return frozenset(item.id for page in pages for item in page.data if item.type == "segment")

    async def segment_has_kx(
        self,
        conn: ConnectionRef,
        segment_id: str,
        kx: str,
        *,
        deadline: float | None = None,
        calls: Counter[str] | None = None,
        max_attempts: int | None = None,
    ) -> bool:
        """Whether the profile with this `_kx` is in the segment (75/s): one filtered page."""
        path = f"api/segments/{quote(segment_id, safe='')}/relationships/profiles"
        params = {"filter": equals("_kx", kx)}
        body = await self._get(
            conn.account_id, conn.site_id, Tier.SEGMENT_MEMBERS, path, params, deadline, calls,
            max_attempts,
        )  # fmt: skip
        return bool(_decode(_ID_PAGE, body).data)

    async def segment_members_page(
        self,
        conn: ConnectionRef,
        segment_id: str,
        *,
        next_url: str | None = None,
        joined_after: float | None = None,
        page_size: int = 100,
        deadline: float | None = None,
        calls: Counter[str] | None = None,
        max_attempts: int | None = None,
    ) -> MemberPage:
        """One page of a segment's member ids (75/s, 700/min), oldest `joined_group_at` first.

        Continue with the previous page's `next_url`. `joined_after` (epoch seconds, sent as an
        unquoted whole-second date, so members of that very second come back too) keeps only
        members who joined later: the incremental read. A deleted segment raises `NotFound`.
        """
        url: str | httpx.URL
        params: dict[str, str] | None
        if next_url is not None:
            url, params = self._same_origin(next_url), None
        else:
            url = f"api/segments/{quote(segment_id, safe='')}/relationships/profiles"
            params = {"page[size]": str(page_size), "sort": "joined_group_at"}
            if joined_after is not None:
                params["filter"] = f"greater-than(joined_group_at,{filter_date(joined_after)})"
        body = await self._get(
            conn.account_id, conn.site_id, Tier.SEGMENT_MEMBERS, url, params, deadline, calls,
            max_attempts,
        )  # fmt: skip
        page = _decode(_ID_PAGE, body)
        ids = [item.id for item in page.data if item.type == "profile"]
        return MemberPage(ids, None if page.links is None else page.links.next)

    # --- transport -------------------------------------------------------------------------

    async def _pages(
        self,
        decoder: msgspec.json.Decoder[_P],
        conn: ConnectionRef,
        tier: Tier,
        path: str,
        params: dict[str, str] | None,
        deadline: float | None,
        calls: Counter[str] | None,
        max_attempts: int | None,
    ) -> list[_P]:
        """Every page of a collection, following `links.next` (at most `max_pages`)."""
        url: str | httpx.URL = path
        pages: list[_P] = []
        for _ in range(self._max_pages):
            body = await self._get(
                conn.account_id, conn.site_id, tier, url, params, deadline, calls, max_attempts
            )
            page = _decode(decoder, body)
            pages.append(page)
            if page.links is None or page.links.next is None:
                return pages
            url, params = self._same_origin(page.links.next), None
        raise errors.ProtocolError(f"more than {self._max_pages} pages from {path}")

    def _same_origin(self, link: str) -> httpx.URL:
        # The bearer token must never follow a link to another host.
        url = httpx.URL(link)
        base = self._base
        if (url.scheme, url.host, url.port) != (base.scheme, base.host, base.port):
            raise errors.ProtocolError(f"links.next points away from {base}: {link}")
        return url

    async def _get(
        self,
        account_key: str,
        site_id: str,
        tier: Tier,
        url: str | httpx.URL,
        params: dict[str, str] | None,
        deadline: float | None,
        calls: Counter[str] | None,
        max_attempts: int | None,
    ) -> bytes:
        if deadline is None:
            deadline = time.monotonic() + self._default_deadline
        attempts_allowed = max_attempts or self._max_attempts
        target = url if isinstance(url, httpx.URL) else self._base.join(url)
        failures = 0
        refreshed = False
        token: str | None = None
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise errors.DeadlineExceeded(f"no answer from {tier} within the deadline")
            refusal = await self.gate.take(account_key, tier)
            if refusal is not None:
                self.stats.outcomes["refused"] += 1
                self.stats.calls[(tier, "refused")] += 1
                kind = errors.AccountThrottled if refusal.throttled else errors.BudgetExhausted
                raise kind(f"{tier} call refused", retry_after_s=refusal.retry_after_s)
            if token is None:
                token = await self._token(site_id, None)
            self.stats.requests[tier] += 1
            if calls is not None:
                calls[tier] += 1
            headers = {
                "Authorization": f"Bearer {token}",
                "Accept": JSON_API,
                "revision": self._revision,
            }
            failure: str
            try:
                response = await self._http.get(
                    target, params=params, headers=headers, timeout=min(self._timeout, remaining)
                )
            except httpx.TimeoutException:
                failure = "timeout"
                self.stats.calls[(tier, "timeout")] += 1
            except httpx.TransportError as exc:
                failure = f"transport error: {type(exc).__name__}"
                self.stats.calls[(tier, "transport_error")] += 1
            else:
                status = response.status_code
                self.stats.outcomes[str(status)] += 1
                self.stats.calls[(tier, str(status))] += 1
                if 200 <= status < 300:
                    return response.content
                if status == 401:
                    if refreshed:
                        raise errors.Unauthorized("401 after a token refresh", status=401)
                    refreshed = True
                    token = await self._token(site_id, token)
                    continue
                if status == 429:
                    wait = retry_after_seconds(response.headers.get("Retry-After"), self._default_retry_after)
                    await self.gate.block(account_key, wait)
                    raise errors.RateLimited("429 from Klaviyo", status=429, retry_after_s=wait)
                if status < 500:
                    raise _client_error(status, response.text)
                failure = f"HTTP {status}"
            failures += 1
            if failures >= attempts_allowed:
                raise errors.KlaviyoUnavailable(f"{tier}: {failure} after {failures} attempts")
            step = min(self._backoff_max, self._backoff_base * 2 ** (failures - 1))
            delay = step / 2 + random.uniform(0, step / 2)
            if time.monotonic() + delay >= deadline:
                raise errors.KlaviyoUnavailable(f"{tier}: {failure}, no time left to retry")
            await asyncio.sleep(delay)

    async def _token(self, site_id: str, rejected: str | None) -> str:
        try:
            if rejected is None:
                return await self._tokens.access_token(site_id)
            return await self._tokens.refresh_after_unauthorized(site_id, rejected)
        except Exception as exc:  # any failure of the token source: cannot call Klaviyo now
            raise errors.TokenUnavailable(f"no access token: {type(exc).__name__}") from exc


def filter_date(epoch_s: float) -> str:
    """A filter date-time: whole seconds, UTC, unquoted (`2026-01-01T00:00:00Z`)."""
    return datetime.fromtimestamp(int(epoch_s), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _client_error(status: int, text: str) -> errors.KlaviyoError:
    detail = text[:300]
    if status == 400:
        return errors.BadRequest(f"400 from Klaviyo: {detail}", status=400)
    if status == 404:
        return errors.NotFound(f"404 from Klaviyo: {detail}", status=404)
    return errors.UnexpectedStatus(f"{status} from Klaviyo: {detail}", status=status)
