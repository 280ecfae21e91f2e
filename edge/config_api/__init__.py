"""The configuration API's shared parts: the rules and types behind its routes.

- `documents`: the experience document as msgspec types (schema and responses);
- `etags`: versions as ETags, `If-Match` / `If-None-Match`;
- `lifecycle`: allowed status changes (draft -> live -> paused -> live -> ended);
- `changes`: warnings for edits of running tests;
- `segment_catalog` and `segment_checks`: the account's segment list (60 s) and checking
  experiences against it;
- `explaining`: the `explain` answer and its summary lines;
- `views`: the other response bodies; `openapi`: `GET /openapi.json`.

The routes themselves live in `edge/routes/` (`experiences`, `segments`, `explain`).
"""
