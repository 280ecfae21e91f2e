"""The HTML a merchant sees at the fake's `/oauth/authorize`: the consent form and error pages."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from types import MappingProxyType

from sandbox.records import Account

_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 32rem; margin: 3rem auto; color: #222; }
.banner { background: #fff4d6; border: 1px solid #e0c060; padding: .5rem .75rem; }
button { font-size: 1rem; padding: .5rem 1.5rem; margin-right: .5rem; }
"""

_SCOPE_TEXT: Mapping[str, str] = MappingProxyType(
    {
        "accounts:read": "View your account details",
        "profiles:read": "View profiles",
        "segments:read": "View segments and their members",
        "events:write": "Send events (which can trigger flows)",
    }
)


def _page(title: str, body: str) -> str:
    return (
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{escape(title)}"
        f"</title><style>{_STYLE}</style></head><body>"
        "<p class='banner'>Klaviyo sandbox: a fake for development, not Klaviyo.</p>"
        f"{body}</body></html>"
    )


def consent_page(
    *,
    app_name: str,
    scopes: Sequence[str],
    accounts: Sequence[Account],
    selected: str,
    action: str,
    hidden: Mapping[str, str],
) -> str:
    """The consent form: the app's requested scopes, the account, Allow and Deny buttons."""
    items = "".join(f"<li><code>{escape(s)}</code> {escape(_SCOPE_TEXT.get(s, ''))}</li>" for s in scopes)
    if len(accounts) == 1:
        only = accounts[0]
        account_html = (
            f"<p>Account: <strong id='account'>{escape(only.organization_name)}</strong></p>"
            f"<input type='hidden' name='account_id' value='{escape(only.id)}'>"
        )
    else:
        options = "".join(
            f"<option value='{escape(a.id)}'{' selected' if a.id == selected else ''}>"
            f"{escape(a.organization_name)}</option>"
            for a in accounts
        )
        account_html = (
            "<p><label for='account_id'>Account:</label> "
            f"<select id='account_id' name='account_id'>{options}</select></p>"
        )
    fields = "".join(
        f"<input type='hidden' name='{escape(k)}' value='{escape(v)}'>" for k, v in hidden.items()
    )
    body = (
        f"<h1>Allow {escape(app_name)} to access your Klaviyo account?</h1>"
        f"<form method='post' action='{escape(action)}'>{fields}{account_html}"
        f"<p>{escape(app_name)} is asking to:</p><ul id='scopes'>{items}</ul>"
        "<button type='submit' name='decision' value='allow' id='allow'>Allow</button>"
        "<button type='submit' name='decision' value='deny' id='deny'>Deny</button>"
        "</form>"
    )
    return _page(f"Authorize {app_name}", body)


def error_page(title: str, detail: str) -> str:
    """Shown instead of redirecting when the client or its redirect URI cannot be trusted."""
    return _page(title, f"<h1>{escape(title)}</h1><p id='error'>{escape(detail)}</p>")
