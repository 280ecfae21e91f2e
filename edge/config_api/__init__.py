"""The configuration API: the merchant's (and the merchant page's) way to manage a site.

Routes (each module's `routes`; `routes.py` lists them all for the app):
- `sites`: `POST /v1/sites` (operator), `GET|PATCH /v1/sites/{site_id}`;
- `experiences`: experiences with ETags and the lifecycle;
- `segments`: the connected account's segments; `explain`: the decision trace;
- `triggers`: event trigger switches and their status; `openapi`: `GET /openapi.json`.

The rules and types behind them:
- `documents`: the experience document as msgspec types (schema and responses);
- `etags`: versions as ETags, `If-Match` / `If-None-Match`;
- `lifecycle`: allowed status changes (draft -> live -> paused -> live -> ended);
- `changes`: warnings for edits of running tests;
- `segment_catalog` and `segment_checks`: the account's segment list (60 s) and checking
  experiences against it;
- `explaining`: the `explain` answer and its summary lines;
- `views`: the other response bodies.
"""
