"""The result page's ticket: it opens the page for one result, in one browser, for a while."""

from __future__ import annotations

import pytest

from edge.connect.binding import TICKET_TTL_S, Outcome, Result, ResultTickets
from oauth.binding import new_browser_secret

SECRET_KEY = "test-secret-key-0123456789"
BROWSER = new_browser_secret()


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    "result", [Result(Outcome.CONNECTED, "site_1"), Result(Outcome.DENIED, "site_1", "access_denied")]
)
def test_a_ticket_opens_its_result_in_its_browser(result: Result) -> None:
    tickets = ResultTickets(SECRET_KEY, clock=Clock())
    query = tickets.query(result, BROWSER)
    assert tickets.check(query, BROWSER) == result
    assert BROWSER not in str(query)


@pytest.mark.parametrize(
    "change",
    [
        {"site_id": "site_2"},
        {"outcome": "denied"},
        {"outcome": "anything"},
        {"error": "access_denied"},
        {"expires": "9999999999"},
        {"expires": "soon"},
        {"sig": ""},
    ],
)
def test_a_changed_ticket_opens_nothing(change: dict[str, str]) -> None:
    tickets = ResultTickets(SECRET_KEY, clock=Clock())
    query = tickets.query(Result(Outcome.CONNECTED, "site_1"), BROWSER) | change
    assert tickets.check(query, BROWSER) is None


def test_a_ticket_opens_nothing_in_another_browser_with_another_key_or_late() -> None:
    clock = Clock()
    tickets = ResultTickets(SECRET_KEY, clock=clock)
    query = tickets.query(Result(Outcome.CONNECTED, "site_1"), BROWSER)
    assert tickets.check(query, None) is None
    assert tickets.check(query, new_browser_secret()) is None
    assert ResultTickets("another-secret-key-0123456789", clock=clock).check(query, BROWSER) is None
    clock.now += TICKET_TTL_S - 1
    assert tickets.check(query, BROWSER) is not None
    clock.now += 1
    assert tickets.check(query, BROWSER) is None
