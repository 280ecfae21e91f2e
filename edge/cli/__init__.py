"""`kx-edge`, the command line: `main` parses and dispatches, `serve` runs uvicorn."""
