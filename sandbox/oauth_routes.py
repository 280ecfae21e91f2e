"""`/oauth/authorize` (consent page and its form), `/oauth/token` and `/oauth/revoke`."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlencode, urlsplit, urlunsplit

from starlette.datastructures import FormData, QueryParams
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from sandbox.consent_page import consent_page, error_page
from sandbox.jsonapi import absolute
from sandbox.oauth_records import SCOPE_PATTERN, TokenError, TokenErrorCode
from sandbox.state import SandboxState

_FORM = "application/x-www-form-urlencoded"
_CARRIED = (
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "code_challenge",
    "code_challenge_method",
)


def _text(values: QueryParams | FormData, key: str) -> str:
    value = values.get(key)
    return value if isinstance(value, str) else ""


def _redirect(redirect_uri: str, params: Mapping[str, str]) -> Response:
    parts = urlsplit(redirect_uri)
    extra = urlencode({k: v for k, v in params.items() if v})
    query = f"{parts.query}&{extra}" if parts.query else extra
    return RedirectResponse(urlunsplit(parts._replace(query=query)), status_code=302)


class OAuthRoutes:
    """The OAuth endpoints of one fake, bound to its state."""

    def __init__(self, state: SandboxState) -> None:
        self.state = state

    async def authorize(self, request: Request) -> Response:
        values: QueryParams | FormData = (
            request.query_params if request.method == "GET" else await request.form()
        )
        get = {key: _text(values, key) for key in _CARRIED}
        client = self.state.oauth.client(get["client_id"])
        if client is None:
            return HTMLResponse(error_page("Unknown app", "No app has this client_id."), 400)
        redirect_uri = get["redirect_uri"]
        if redirect_uri not in client.redirect_uris:
            detail = "The redirect_uri is not registered for this app."
            return HTMLResponse(error_page("Invalid redirect", detail), 400)

        def refuse(error: str, description: str) -> Response:
            params = {"error": error, "error_description": description, "state": get["state"]}
            return _redirect(redirect_uri, params)

        scopes = tuple(get["scope"].split())
        if get["response_type"] != "code":
            return refuse("unsupported_response_type", "response_type must be code")
        if not get["code_challenge"] or get["code_challenge_method"] != "S256":
            return refuse("invalid_request", "PKCE is required: code_challenge with method S256")
        if not scopes or not all(SCOPE_PATTERN.match(s) for s in scopes):
            return refuse("invalid_scope", "scope must list space-separated name:read|write scopes")
        accounts = self.state.accounts()
        default = self.state.default_account_for(client.client_id)
        if default is None:
            return refuse("server_error", "The sandbox has no account to connect")
        decision = "allow" if self.state.oauth.auto_approve else ""
        if request.method == "POST":
            decision = _text(values, "decision")
        if decision == "deny":
            return refuse("access_denied", "The merchant declined to connect the app")
        if decision != "allow":
            page = consent_page(
                app_name=client.name,
                scopes=scopes,
                accounts=accounts,
                selected=default,
                action=absolute(request, "/oauth/authorize"),
                hidden=get,
            )
            return HTMLResponse(page)
        account_id = _text(values, "account_id") or default
        if self.state.account(account_id) is None:
            return refuse("invalid_request", "Unknown account")
        code = self.state.oauth.issue_code(
            client.client_id, redirect_uri, get["code_challenge"], scopes, account_id
        )
        return _redirect(redirect_uri, {"code": code, "state": get["state"]})

    async def _form(self, request: Request) -> FormData:
        if request.headers.get("content-type", "").split(";")[0].strip() != _FORM:
            return FormData()
        return await request.form()

    async def token(self, request: Request) -> Response:
        try:
            client = self.state.oauth.authenticate(request.headers.get("authorization"))
            form = await self._form(request)
            grant_type = _text(form, "grant_type")
            if grant_type == "authorization_code":
                tokens = self.state.oauth.exchange_code(
                    client,
                    _text(form, "code"),
                    _text(form, "code_verifier"),
                    _text(form, "redirect_uri"),
                )
            elif grant_type == "refresh_token":
                tokens = self.state.oauth.refresh(client, _text(form, "refresh_token"))
            else:
                raise TokenError(TokenErrorCode.INVALID_GRANT_TYPE, f"Unsupported {grant_type=}")
        except TokenError as error:
            return _token_error(error)
        return JSONResponse(tokens.as_json(), headers={"Cache-Control": "no-store"})

    async def revoke(self, request: Request) -> Response:
        """Revoke a refresh token (or access token): its whole installation. 200 either way, as
        RFC 7009 asks, once the client authenticated."""
        try:
            client = self.state.oauth.authenticate(request.headers.get("authorization"))
            token = _text(await self._form(request), "token")
            if not token:
                raise TokenError(TokenErrorCode.INVALID_REQUEST, "The token parameter is required.")
        except TokenError as error:
            return _token_error(error)
        self.state.oauth.revoke(token, client.client_id)
        return Response(status_code=200)


def _token_error(error: TokenError) -> Response:
    body = {"error": error.code.value, "error_description": error.description}
    headers = {"Cache-Control": "no-store"}
    if error.code is TokenErrorCode.INVALID_CLIENT:
        headers["WWW-Authenticate"] = 'Basic realm="klaviyo-sandbox"'
    return JSONResponse(body, status_code=error.status, headers=headers)
