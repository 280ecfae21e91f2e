"""`python -m sandbox --port 8788`: the demo fake Klaviyo in the foreground."""

from __future__ import annotations

import argparse
import secrets
import tempfile
from pathlib import Path

import uvicorn

from sandbox.app import create_fake_klaviyo
from sandbox.sample_data import demo_state
from sandbox.tls import write_self_signed


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8788)
    parser.add_argument("--client-id", default=None, help="default: generated")
    parser.add_argument("--client-secret", default=None, help="default: generated")
    parser.add_argument("--redirect-uri", default="http://127.0.0.1:8787/oauth/klaviyo/callback")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to /api/ calls")
    parser.add_argument("--no-rate-limits", action="store_true")
    parser.add_argument("--tls", action="store_true", help="serve https with a throwaway CA")
    args = parser.parse_args(argv)
    client_id = args.client_id or "sandbox-" + secrets.token_hex(6)
    client_secret = args.client_secret or secrets.token_urlsafe(24)
    state = demo_state(client_id, client_secret, args.redirect_uri)
    app = create_fake_klaviyo(state, latency_s=args.latency, enforce_rate_limits=not args.no_rate_limits)
    with tempfile.TemporaryDirectory(prefix="kx-sandbox-tls-") as directory:
        files = write_self_signed(Path(directory)) if args.tls else None
        scheme = "https" if files else "http"
        print(f"Klaviyo sandbox at {scheme}://{args.host}:{args.port}", flush=True)
        print(f"  client id:     {client_id}", flush=True)
        print(f"  client secret: {client_secret}", flush=True)
        print(f"  redirect URI:  {args.redirect_uri}", flush=True)
        if files:
            print(f"  CA file:       {files.ca_file}", flush=True)
        uvicorn.run(
            app,
            host=args.host,
            port=args.port,
            log_level="info",
            ssl_certfile=str(files.cert_file) if files else None,
            ssl_keyfile=str(files.key_file) if files else None,
        )


if __name__ == "__main__":
    main()
