"""Disconnecting a site: forget the tokens first, then revoke them at Klaviyo (best effort)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from oauth.client import KlaviyoOAuthClient
from oauth.crypto import TokenCipher
from oauth.errors import OAuthError
from oauth.storage import ConnectionStore

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DisconnectResult:
    was_connected: bool  # the site had tokens to forget
    revoked: bool  # Klaviyo confirmed the revocation


async def disconnect(
    site_id: str, *, store: ConnectionStore, cipher: TokenCipher, client: KlaviyoOAuthClient
) -> DisconnectResult:
    """Disconnect `site_id`: local tokens are always forgotten and the generation bumped (in one
    atomic store step, before any network call); then the refresh token is revoked at Klaviyo,
    and a failure there is logged, never raised."""
    previous = await store.disconnect(site_id)
    if previous is None or previous.refresh_token_enc is None:
        return DisconnectResult(was_connected=False, revoked=False)
    try:
        await client.revoke(cipher.decrypt(previous.refresh_token_enc))
    except OAuthError as exc:
        logger.warning(
            "site %s disconnected, but revoking its Klaviyo token failed (%s): %s",
            site_id,
            exc.code,
            exc,
        )
        return DisconnectResult(was_connected=True, revoked=False)
    logger.info("site %s disconnected and its Klaviyo token revoked", site_id)
    return DisconnectResult(was_connected=True, revoked=True)
