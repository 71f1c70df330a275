"""Typed errors raised by the source clients, and the mapping from HTTP failures to them.

Every error carries ``user_message`` (what the user can do about it), ``status`` (the HTTP
status, when there was one), ``retryable`` and ``retry_after_s`` (seconds to wait before a
retry is worth it, when known). Messages are redacted: an OpenRouter key (``sk-or-...``), a
``Bearer`` credential or any secret string handed to the error never appears in ``str()``,
``repr()`` or ``user_message``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from locallama_gui.core.redaction import redact

#: Above this an ``X-RateLimit-Reset`` value is epoch milliseconds; below, epoch seconds.
_MS_THRESHOLD = 100_000_000_000


class SourceError(Exception):
    """Base of every error a source client raises."""

    default_user_message = "The model server returned an error. Try again later."
    default_retryable = False

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        retryable: bool | None = None,
        retry_after_s: float | None = None,
        user_message: str | None = None,
        code: str | None = None,
        url: str | None = None,
        secrets: Iterable[str | None] = (),
    ) -> None:
        secrets = tuple(secrets)
        self.message = redact(message, secrets)
        self.status = status
        self.retryable = self.default_retryable if retryable is None else retryable
        self.retry_after_s = retry_after_s
        self.user_message = redact(user_message or self.default_user_message, secrets)
        self.code = code
        self.url = redact(url, secrets) if url else None
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        parts = [repr(self.message)]
        if self.status is not None:
            parts.append(f"status={self.status}")
        if self.code is not None:
            parts.append(f"code={self.code!r}")
        return f"{type(self).__name__}({', '.join(parts)})"


class AuthError(SourceError):
    """401: the API key is missing, invalid, disabled or expired."""

    default_user_message = (
        "The API key was rejected. Copy the whole key again from openrouter.ai/settings/keys "
        "and store it in Settings (or with 'locallama key set')."
    )


class PaymentRequired(SourceError):
    """402: no credits left (account or key limit); also on free models with a negative balance."""

    default_user_message = (
        "OpenRouter needs credits for this request (a negative balance blocks free models "
        "too). Add credits at openrouter.ai/settings/credits or raise the key's limit."
    )


class ModerationError(SourceError):
    """403: the request was blocked (moderation flag, guardrail or missing permission)."""

    default_user_message = (
        "The provider refused this request (moderation or permissions). Rephrase the prompt "
        "or pick another model."
    )

    def __init__(
        self,
        message: str,
        *,
        reasons: tuple[str, ...] = (),
        provider: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(message, **kwargs)
        secrets = tuple(kwargs.get("secrets") or ())
        self.reasons = tuple(redact(r, secrets) for r in reasons)
        self.provider = redact(provider, secrets) if provider is not None else None


class NotFoundError(SourceError):
    """404 (or a 400 naming an unknown model). ``code`` tells why when the server said so.

    ``code`` is one of ``free_variant_ended``, ``privacy_restricted``, ``model_not_found``,
    ``endpoint_not_found`` or ``None``.
    """

    default_user_message = "The model or endpoint was not found. Refresh the catalogue."


class SourceTimeout(SourceError):
    """408/504 from the server, or the client gave up waiting (connect, read or deadline)."""

    default_user_message = "The server took too long to answer. Try again or pick another model."
    default_retryable = True

    def __init__(
        self,
        message: str,
        *,
        phase: str | None = None,
        timeout_s: float | None = None,
        no_response: bool = False,
        deadline: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(message, **kwargs)
        self.phase = phase  # "connect", "read", "deadline", "server" or None
        #: the wait that ran out, in seconds (when the client gave up waiting)
        self.timeout_s = timeout_s
        #: nothing came back at all: no connection, or no first byte of a response
        self.no_response = no_response
        #: the wait was cut short by the operation's overall deadline (see
        #: ``sources.http.operation_deadline``), not by the policy's own timeout
        self.deadline = deadline


TimeoutError_ = SourceTimeout

RATE_LIMIT_SCOPES = ("free-per-minute", "free-per-day", "provider", "unknown")


class RateLimited(SourceError):
    """429. ``scope`` says which limit: see :data:`RATE_LIMIT_SCOPES`.

    ``reset_at`` (UTC) comes from ``X-RateLimit-Reset`` (epoch milliseconds) in the body's
    ``error.metadata.headers`` or in the real response headers.
    """

    default_retryable = True

    def __init__(
        self,
        message: str,
        *,
        scope: str = "unknown",
        reset_at: datetime | None = None,
        limit: int | None = None,
        remaining: int | None = None,
        **kwargs: Any,
    ) -> None:
        if "user_message" not in kwargs or kwargs["user_message"] is None:
            kwargs["user_message"] = _rate_limit_user_message(scope, reset_at)
        if scope == "free-per-day" and kwargs.get("retryable") is None:
            kwargs["retryable"] = False
        super().__init__(message, **kwargs)
        self.scope = scope if scope in RATE_LIMIT_SCOPES else "unknown"
        self.reset_at = reset_at
        self.limit = limit
        self.remaining = remaining


def _rate_limit_user_message(scope: str, reset_at: datetime | None) -> str:
    when = f" (resets {reset_at:%Y-%m-%d %H:%M:%S} UTC)" if reset_at else ""
    if scope == "free-per-minute":
        return f"Free-model limit of 20 requests per minute reached; wait a moment{when}."
    if scope == "free-per-day":
        return (
            "Free-model daily limit reached; free models are unavailable until UTC midnight"
            f"{when}. Buying 10 credits once raises the cap to 1000 requests per day."
        )
    if scope == "provider":
        return f"The provider is rate-limiting this model; try another model or wait{when}."
    return f"Rate limited; wait before retrying{when}."


class ProviderDown(SourceError):
    """5xx: the server or the upstream provider is failing or overloaded."""

    default_user_message = "The model provider is unavailable right now. Try another model."
    default_retryable = True


class Unreachable(SourceError):
    """The server could not be reached (connection refused, DNS failure, reset).

    ``code`` is ``"connect"`` when no connection could be made at all (refused, no route,
    unknown host): the host, not the request, is what failed.
    """

    default_user_message = "Could not connect to the server. Is it running, and is the URL right?"
    default_retryable = True


class BadRequest(SourceError):
    """400/422: the server rejected the request (e.g. ``context_length_exceeded``)."""

    default_user_message = "The server rejected the request as invalid."


class BadResponse(SourceError):
    """The answer could not be used: not JSON, truncated, wrong content type, unexpected shape.

    ``code`` is one of ``not_json``, ``truncated``, ``content_type``, ``shape``, ``redirect``,
    ``too_large`` or ``protocol``.
    """

    default_user_message = "The server sent a response that could not be read."


class ResponseTooLarge(BadResponse):
    """The body exceeded the policy's ``max_response_bytes``; reading stopped there."""

    default_user_message = "The server sent a response larger than allowed; it was not read."

    def __init__(self, message: str, *, limit: int | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("code", "too_large")
        super().__init__(message, **kwargs)
        self.limit = limit


class InsecureURLError(SourceError, ValueError):
    """Plain ``http`` to a host that is neither loopback nor on a private network."""

    default_user_message = (
        "Refusing to send requests over plain http to a public host; use an https:// URL."
    )


# --------------------------------------------------------------------------- header helpers


def _header(headers: Mapping[str, Any] | None, name: str) -> str | None:
    if not headers:
        return None
    lname = name.lower()
    for key, value in headers.items():
        if str(key).lower() == lname and value is not None:
            return str(value).strip()
    return None


def _to_int(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return int(float(str(value).strip()))
    except (TypeError, ValueError, OverflowError):
        return None


def parse_retry_after(value: str | None, now: float) -> float | None:
    """``Retry-After`` as seconds from ``now`` (epoch seconds): delta-seconds or an HTTP date."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None:
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return max(0.0, when.timestamp() - now)
    if seconds != seconds or seconds < 0:  # NaN or negative
        return None
    return seconds


def parse_rate_limit_reset(value: Any) -> datetime | None:
    """``X-RateLimit-Reset`` (epoch milliseconds; small values read as seconds) as UTC."""
    number = _to_int(value)
    if number is None or number <= 0:
        return None
    seconds = number / 1000 if number >= _MS_THRESHOLD else float(number)
    try:
        return datetime.fromtimestamp(seconds, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


# --------------------------------------------------------------------------- mapping

_STRING_CODES: Mapping[str, int] = {
    "authentication": 401,
    "invalid_api_key": 401,
    "unauthorized": 401,
    "payment_required": 402,
    "insufficient_quota": 402,
    "permission_denied": 403,
    "moderation": 403,
    "forbidden": 403,
    "not_found": 404,
    "model_not_found": 404,
    "timeout": 408,
    "rate_limit_exceeded": 429,
    "rate_limited": 429,
    "capacity_exhausted": 429,
    "server": 500,
    "server_error": 500,
    "internal_error": 500,
    "provider_unavailable": 502,
    "provider_overloaded": 503,
    "unavailable_error": 503,
    "overloaded": 503,
    "context_length_exceeded": 400,
    "invalid_request_error": 400,
}


def _status_from_code(code: Any) -> int | None:
    if isinstance(code, bool):
        return None
    if isinstance(code, int) and 100 <= code <= 599:
        return code
    if isinstance(code, str):
        text = code.strip()
        if text.isdigit():
            number = int(text)
            return number if 100 <= number <= 599 else None
        return _STRING_CODES.get(text.lower())
    return None


def _error_parts(body: Any) -> tuple[str | None, dict[str, Any], dict[str, Any], Any, Any]:
    """(message, metadata, availability, code, type) of an error body of any known shape."""
    if not isinstance(body, dict):
        return None, {}, {}, None, None
    err = body.get("error")
    if isinstance(err, str):  # Ollama: {"error": "..."}
        return err, {}, {}, None, None
    if not isinstance(err, dict):
        message = body.get("message") or body.get("detail")
        return (str(message) if isinstance(message, str) else None), {}, {}, None, None
    message = err.get("message")
    metadata = err.get("metadata") if isinstance(err.get("metadata"), dict) else {}
    availability = err.get("availability")
    if not isinstance(availability, dict):
        top = body.get("availability")
        availability = top if isinstance(top, dict) else {}
    return (
        str(message) if message is not None else None,
        metadata,
        availability,
        err.get("code"),
        err.get("type"),
    )


def rate_limit_scope(message: str | None, metadata: Mapping[str, Any] | None = None) -> str:
    """Which limit a 429 names: free-per-minute, free-per-day, provider or unknown."""
    text = (message or "").lower()
    if "free-models-per-min" in text:
        return "free-per-minute"
    if "free-models-per-day" in text:
        return "free-per-day"
    meta = metadata or {}
    if (
        meta.get("provider_code") is not None
        or meta.get("provider_name")
        or "capacity_exhausted" in text
        or "upstream" in text
        or "provider" in text
    ):
        return "provider"
    return "unknown"


def error_from_response(
    status: int,
    headers: Mapping[str, Any] | None,
    body: Any,
    *,
    now: float,
    url: str | None = None,
    secrets: Iterable[str | None] = (),
    raw_text: str | None = None,
) -> SourceError:
    """The typed error for a failed response.

    ``status`` is the HTTP status (for an error delivered inside a 200 body or a stream
    chunk, pass 200: the body's ``error.code`` then decides). ``body`` is the parsed JSON
    (``None`` when it was not JSON). ``now`` is the current time in epoch seconds, used to turn
    ``Retry-After`` dates and ``X-RateLimit-Reset`` into waits.
    """
    secrets = tuple(secrets)
    message, metadata, availability, code, err_type = _error_parts(body)
    effective = status
    if status < 400:
        effective = (
            _status_from_code(code)
            or _status_from_code(metadata.get("error_type"))
            or _status_from_code(err_type)
            or 500
        )
    error_type = metadata.get("error_type")
    avail_code = availability.get("code") if availability else None
    text = message or (raw_text or "").strip()[:300] or f"HTTP {status}"
    detail = f"HTTP {effective}: {text}" if status >= 400 else text

    retry_after = parse_retry_after(_header(headers, "Retry-After"), now)
    if retry_after is None and availability.get("retry_after") is not None:
        retry_after = _to_float(availability.get("retry_after"))
    body_headers = metadata.get("headers") if isinstance(metadata.get("headers"), dict) else {}
    reset_raw = _header(body_headers, "X-RateLimit-Reset") or _header(headers, "X-RateLimit-Reset")
    reset_at = parse_rate_limit_reset(reset_raw)
    if retry_after is None and reset_at is not None:
        retry_after = max(0.0, reset_at.timestamp() - now)
    avail_retryable = availability.get("retryable")
    retryable = avail_retryable if isinstance(avail_retryable, bool) else None

    common: dict[str, Any] = {
        "status": effective,
        "retry_after_s": retry_after,
        "url": url,
        "secrets": secrets,
        "retryable": retryable,
    }
    lowered = text.lower()

    if effective == 401:
        return AuthError(detail, **common)
    if effective == 402:
        return PaymentRequired(detail, **common)
    if effective == 403:
        reasons = metadata.get("reasons")
        return ModerationError(
            detail,
            reasons=tuple(str(r) for r in reasons) if isinstance(reasons, list) else (),
            provider=_str_or_none(metadata.get("provider_name")),
            code=_str_or_none(error_type) or _str_or_none(code if isinstance(code, str) else None),
            **common,
        )
    if (
        effective == 404
        or avail_code == "model_not_found"
        or _str_or_none(code)
        in {
            "model_not_found",
        }
    ):
        reason = None
        if avail_code in {"free_variant_ended", "privacy_restricted", "model_not_found"}:
            reason = avail_code
        elif "free_variant_ended" in lowered or (
            "free" in lowered and ("ended" in lowered or "no longer" in lowered)
        ):
            reason = "free_variant_ended"
        elif "data policy" in lowered or "privacy" in lowered:
            reason = "privacy_restricted"
        elif "model" in lowered or avail_code:
            reason = _str_or_none(avail_code) or "model_not_found"
        else:
            reason = "endpoint_not_found"
        user = None
        if reason == "free_variant_ended":
            user = "This free variant has ended. Refresh the catalogue and pick another model."
        elif reason == "privacy_restricted":
            user = (
                "Your OpenRouter privacy settings exclude every endpoint of this model; "
                "relax them at openrouter.ai/settings/privacy or pick another model."
            )
        return NotFoundError(detail, code=reason, user_message=user, **common)
    if effective in (408, 504) or error_type == "timeout":
        return SourceTimeout(detail, phase="server", **common)
    if effective == 429:
        scope = rate_limit_scope(text, metadata)
        if avail_code == "capacity_exhausted" or error_type == "capacity_exhausted":
            scope = "provider"
        limit_raw = _header(body_headers, "X-RateLimit-Limit") or _header(
            headers, "X-RateLimit-Limit"
        )
        remaining_raw = _header(body_headers, "X-RateLimit-Remaining") or _header(
            headers, "X-RateLimit-Remaining"
        )
        return RateLimited(
            detail,
            scope=scope,
            reset_at=reset_at,
            limit=_to_int(limit_raw),
            remaining=_to_int(remaining_raw),
            code=_str_or_none(error_type),
            **common,
        )
    if effective >= 500:
        code_name = _str_or_none(error_type) or _str_or_none(avail_code)
        return ProviderDown(detail, code=code_name, **common)
    if effective in (400, 409, 413, 422):
        return BadRequest(
            detail,
            code=_str_or_none(error_type) or _str_or_none(code if isinstance(code, str) else None),
            **common,
        )
    return SourceError(detail, **common)


def _to_float(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number >= 0 else None


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
