"""`kx-edge`, the command line: `main` parses and dispatches; one module per command group
(`config`, `sites`, `experiences`; `serve` runs uvicorn). Commands that act on a running
service go through its HTTP API (`remote`)."""
