"""The fake on a real socket: plain, over TLS, and as `python -m sandbox`."""

from __future__ import annotations

import ssl
import subprocess
import sys

import httpx
import pytest

from sandbox import DEMO_ACCOUNT_ID, FaultKind, running_fake_klaviyo, serve_fake_klaviyo
from sandbox.state import SandboxState
from tests.sandbox.support import REVISION
from tests.waiting import free_port, port_answers, wait_until


def test_should_serve_on_a_free_port_and_stop(state: SandboxState, headers: dict[str, str]) -> None:
    with running_fake_klaviyo(state, latency_s=0.01) as url:
        assert url.startswith("http://127.0.0.1:")
        port = int(url.rsplit(":", 1)[1])
        with httpx.Client(base_url=url, headers=headers) as http:
            response = http.get("/api/accounts")
        assert response.status_code == 200
        assert response.json()["data"][0]["links"]["self"] == f"{url}/api/accounts/{DEMO_ACCOUNT_ID}/"
    assert not port_answers(port)


def test_should_time_a_client_out_on_a_hang_and_still_stop_promptly(
    state: SandboxState, headers: dict[str, str]
) -> None:
    # A hang far longer than the test's own timeout: if stopping waited for it, the test would fail.
    state.faults.inject("/api/profiles", FaultKind.HANG, hang_s=3600)
    with running_fake_klaviyo(state) as url:
        port = int(url.rsplit(":", 1)[1])
        with httpx.Client(base_url=url, headers=headers, timeout=0.2) as http:
            with pytest.raises(httpx.ReadTimeout):
                http.get("/api/profiles")
            assert http.get("/api/segments").status_code == 200
    assert not port_answers(port)


def test_should_serve_tls_with_a_certificate_the_ca_file_verifies(
    state: SandboxState, headers: dict[str, str]
) -> None:
    with serve_fake_klaviyo(state, tls=True) as server:
        assert server.base_url.startswith("https://127.0.0.1:")
        assert server.ca_file is not None
        verify = ssl.create_default_context(cafile=str(server.ca_file))
        with httpx.Client(base_url=server.base_url, headers=headers, verify=verify) as http:
            body = http.get("/api/segments", params={"page[size]": "1"}).json()
        assert body["links"]["next"].startswith(server.base_url + "/api/segments?")
        with httpx.Client(base_url=server.base_url) as untrusting:
            try:
                untrusting.get("/api/segments")
            except httpx.ConnectError as error:
                assert "CERTIFICATE_VERIFY_FAILED" in str(error)
            else:
                raise AssertionError("a client without the CA must refuse the certificate")


def test_should_run_as_a_module_and_print_its_credentials() -> None:
    port = free_port()
    command = [sys.executable, "-m", "sandbox", "--port", str(port), "--client-id", "demo-id"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        wait_until(lambda: port_answers(port), timeout=15, what="python -m sandbox to listen")
        response = httpx.get(f"http://127.0.0.1:{port}/api/accounts", headers={"revision": REVISION})
        assert response.status_code == 401
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=10)
    assert f"http://127.0.0.1:{port}" in output
    assert "demo-id" in output
    assert "client secret:" in output
