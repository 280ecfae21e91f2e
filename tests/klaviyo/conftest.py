"""Fixtures for the Klaviyo client tests: a respx router at the boundary, a fake token source."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
import respx

API = "https://klaviyo.test"


class FakeTokens:
    """A token source: hands out `t1`; each refresh issues the next token; `broken` raises."""

    def __init__(self) -> None:
        self.token = "t1"
        self.refreshes: list[str] = []
        self.broken = False

    async def access_token(self, site_id: str) -> str:
        if self.broken:
            raise RuntimeError("token store unavailable")
        return self.token

    async def refresh_after_unauthorized(self, site_id: str, rejected: str) -> str:
        self.refreshes.append(rejected)
        self.token = f"t{len(self.refreshes) + 1}"
        return self.token


@pytest.fixture
def tokens() -> FakeTokens:
    return FakeTokens()


@pytest.fixture
def klaviyo() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=API, assert_all_called=True, assert_all_mocked=True) as router:
        yield router


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


def ids(kind: str, *values: str, next_url: str | None = None) -> httpx.Response:
    """A JSON:API id collection, as Klaviyo answers relationship and filtered profile reads."""
    links: dict[str, str] = {"self": f"{API}/self"}
    if next_url:
        links["next"] = next_url
    data = [{"type": kind, "id": v} for v in values]
    return httpx.Response(200, json={"data": data, "links": links})
