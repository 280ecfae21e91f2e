"""A sender killed (SIGKILL) mid-batch, then a new process over the same SQLite file: every event
reaches Klaviyo exactly once, counted by unique_id.

Two moments of death: while the sandbox holds the bulk request (the batch never arrived), and
after the sandbox accepted it but before the sender settled it (it arrives twice; Klaviyo, and
the sandbox, keep one per unique_id)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from edge.settings import Settings
from sandbox import FaultKind, SandboxState
from tests.edge.events.conftest import CLIENT_ID, CLIENT_SECRET, VIP, fast_config, shop
from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parents[3]
BULK_ROUTE = "/api/event-bulk-create-jobs"
TRIGGERS = {"entered_test": {"enabled": True}, "saw_personalization": {"enabled": True}}


def _spawn(
    settings: Settings, api_base: str, lease_s: float, claim_max: int, *mode: str
) -> subprocess.Popen[str]:
    assert settings.secret_key is not None
    command = [
        sys.executable, "-m", "tests.edge.events.sender_process", str(settings.database_path), api_base,
        settings.secret_key, CLIENT_ID, CLIENT_SECRET, str(lease_s), str(claim_max), *mode,
    ]  # fmt: skip
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "ready"
    return process


def _outbox(settings: Settings) -> list[str]:
    with sqlite3.connect(settings.database_path) as conn:
        return [row[0] for row in conn.execute("SELECT unique_id FROM event_outbox WHERE state = 'pending'")]


def _stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.kill()
    process.wait(timeout=10)
    if process.stdout is not None:
        process.stdout.close()


@pytest.mark.slow
@pytest.mark.parametrize("moment", ["while_klaviyo_holds_the_batch", "after_klaviyo_accepted_the_batch"])
async def test_a_sender_killed_mid_batch_loses_and_duplicates_nothing(
    settings: Settings, sandbox: SandboxState, fake_klaviyo: str, moment: str
) -> None:
    async with shop(settings, sandbox, triggers=TRIGGERS, config=fast_config(send=False)) as s:
        for i in range(30):
            await s.assign(f"crash{i:02d}".ljust(22, "x"), kx=VIP.kx)
        assert not s.events.observer.buffer  # every answered visit is in the outbox already
    expected = set(_outbox(settings))
    assert len(expected) == 60

    held = moment == "while_klaviyo_holds_the_batch"
    if held:
        sandbox.faults.inject(BULK_ROUTE, FaultKind.HANG, hang_s=2.0)
    first = _spawn(settings, fake_klaviyo, 1.0, 20, *(() if held else ("stall",)))
    try:
        if held:
            wait_until(lambda: not sandbox.faults.pending(), what="the sandbox to hold the first batch")
        else:
            assert first.stdout is not None and first.stdout.readline().strip() == "accepted 202"
            assert len(sandbox.events()) == 20
        first.kill()  # SIGKILL: no shutdown, no flush, no release of the claimed batch
    finally:
        _stop(first)
    assert len(_outbox(settings)) == 60  # nothing was settled

    second = _spawn(settings, fake_klaviyo, 30.0, 1000)
    try:
        wait_until(
            lambda: {e.unique_id for e in sandbox.events()} == expected, timeout=20, what="every event"
        )
        wait_until(lambda: not _outbox(settings), what="the outbox to empty")
    finally:
        _stop(second)
    received = Counter(e.unique_id for e in sandbox.events())
    assert set(received) == expected and set(received.values()) == {1}
    # Held: the first batch never arrived. Accepted: it arrived twice and was recorded once.
    assert sandbox.calls.count(BULK_ROUTE, status=202) >= (1 if held else 2)
