"""Errors of the Klaviyo REST client. Each has a stable `code`; callers branch on the class.

    KlaviyoError
    ├── CallRefused              we did not call: the account may not be called right now
    │   ├── BudgetExhausted      our own per-account budget for this tier is spent
    │   └── AccountThrottled     Klaviyo's Retry-After for this account has not run out
    ├── RateLimited              Klaviyo answered 429 (the account is now blocked for Retry-After)
    ├── TokenUnavailable         the token source raised: no access token to call with
    ├── Unauthorized             401 even after one refresh
    ├── KlaviyoUnavailable       5xx, timeouts or transport errors after the allowed retries
    ├── DeadlineExceeded         the deadline ran out before an answer
    ├── BadRequest               400 (for example a filter Klaviyo refuses)
    ├── NotFound                 404
    ├── UnexpectedStatus         any other non-2xx answer
    └── ProtocolError            an answer we cannot parse, or a `links.next` to another host

`retry_after_s` is set on the errors after which a later attempt can succeed by itself.
"""

from __future__ import annotations

from typing import ClassVar


class KlaviyoError(Exception):
    code: ClassVar[str] = "klaviyo_error"

    def __init__(
        self, message: str, *, status: int | None = None, retry_after_s: float | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after_s = retry_after_s


class CallRefused(KlaviyoError):
    code = "call_refused"


class BudgetExhausted(CallRefused):
    code = "budget_exhausted"


class AccountThrottled(CallRefused):
    code = "account_throttled"


class RateLimited(KlaviyoError):
    code = "rate_limited"


class TokenUnavailable(KlaviyoError):
    code = "token_unavailable"


class Unauthorized(KlaviyoError):
    code = "unauthorized"


class KlaviyoUnavailable(KlaviyoError):
    code = "klaviyo_unavailable"


class DeadlineExceeded(KlaviyoError):
    code = "deadline_exceeded"


class BadRequest(KlaviyoError):
    code = "bad_request"


class NotFound(KlaviyoError):
    code = "not_found"


class UnexpectedStatus(KlaviyoError):
    code = "unexpected_status"


class ProtocolError(KlaviyoError):
    code = "protocol_error"
