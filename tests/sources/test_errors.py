"""Mapping failed responses to typed errors, and redaction of secrets."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from locallama_gui.sources.errors import (
    AuthError,
    BadRequest,
    ModerationError,
    NotFoundError,
    PaymentRequired,
    ProviderDown,
    RateLimited,
    SourceTimeout,
    error_from_response,
    parse_rate_limit_reset,
    parse_retry_after,
    rate_limit_scope,
    redact,
)

NOW = 1_767_225_600.0  # 2026-01-01T00:00:00Z


def or_error(code, message, metadata=None, availability=None):
    err = {"code": code, "message": message}
    if metadata is not None:
        err["metadata"] = metadata
    if availability is not None:
        err["availability"] = availability
    return {"error": err}


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (401, AuthError),
        (402, PaymentRequired),
        (403, ModerationError),
        (404, NotFoundError),
        (408, SourceTimeout),
        (429, RateLimited),
        (500, ProviderDown),
        (502, ProviderDown),
        (503, ProviderDown),
        (504, SourceTimeout),
        (400, BadRequest),
    ],
)
def test_status_maps_to_type(status, cls):
    err = error_from_response(status, {}, or_error(status, "boom"), now=NOW)
    assert type(err) is cls
    assert err.status == status
    assert err.user_message
    assert "boom" in str(err)


def test_retryable_flags():
    assert error_from_response(503, {}, None, now=NOW).retryable
    assert error_from_response(504, {}, None, now=NOW).retryable
    assert not error_from_response(401, {}, None, now=NOW).retryable
    assert not error_from_response(402, {}, None, now=NOW).retryable
    assert not error_from_response(404, {}, None, now=NOW).retryable


def test_free_per_minute_with_reset_in_body_metadata():
    reset_ms = int((NOW + 42) * 1000)
    body = or_error(
        429,
        "Rate limit exceeded: free-models-per-min. ",
        {
            "headers": {
                "X-RateLimit-Limit": "20",
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": str(reset_ms),
            }
        },
    )
    err = error_from_response(429, {}, body, now=NOW)
    assert isinstance(err, RateLimited)
    assert err.scope == "free-per-minute"
    assert err.reset_at == datetime.fromtimestamp(NOW + 42, tz=UTC)
    assert err.retry_after_s == pytest.approx(42)
    assert err.limit == 20 and err.remaining == 0
    assert err.retryable


def test_free_per_day_is_not_retryable_and_reset_from_real_headers():
    midnight_ms = int((NOW + 86400) * 1000)
    body = or_error(
        429,
        "Rate limit exceeded: free-models-per-day. Add 10 credits to unlock 1000 free model "
        "requests per day",
    )
    err = error_from_response(429, {"X-RateLimit-Reset": str(midnight_ms)}, body, now=NOW)
    assert isinstance(err, RateLimited)
    assert err.scope == "free-per-day"
    assert not err.retryable
    assert err.reset_at == datetime(2026, 1, 2, tzinfo=UTC)
    assert "1000" in err.user_message


def test_provider_rate_limit_scope():
    body = or_error(429, "x is temporarily rate-limited upstream", {"provider_name": "Chutes"})
    err = error_from_response(429, {}, body, now=NOW)
    assert err.scope == "provider"
    assert rate_limit_scope("Too many requests") == "unknown"


def test_retry_after_seconds_and_http_date():
    assert parse_retry_after("7", NOW) == 7
    assert parse_retry_after("Thu, 01 Jan 2026 00:00:30 GMT", NOW) == pytest.approx(30)
    assert parse_retry_after("garbage", NOW) is None
    assert parse_retry_after("-3", NOW) is None
    err = error_from_response(503, {"Retry-After": "12"}, None, now=NOW)
    assert err.retry_after_s == 12


def test_rate_limit_reset_is_epoch_milliseconds():
    assert parse_rate_limit_reset("1767225600000") == datetime(2026, 1, 1, tzinfo=UTC)
    assert parse_rate_limit_reset(None) is None
    assert parse_rate_limit_reset("soon") is None


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (or_error(404, "gone", availability={"code": "free_variant_ended"}), "free_variant_ended"),
        (
            or_error(
                404,
                "No endpoints found matching your data policy (Free model publication). "
                "Configure: https://openrouter.ai/settings/privacy",
            ),
            "privacy_restricted",
        ),
        (or_error(404, "x", availability={"code": "privacy_restricted"}), "privacy_restricted"),
        ({"error": "model 'llama9' not found, try pulling it first"}, "model_not_found"),
    ],
)
def test_not_found_codes(body, code):
    err = error_from_response(404, {}, body, now=NOW)
    assert isinstance(err, NotFoundError)
    assert err.code == code


def test_unknown_model_400_with_availability_is_not_found():
    body = or_error(400, "x is not a valid model ID", availability={"code": "model_not_found"})
    err = error_from_response(400, {}, body, now=NOW)
    assert isinstance(err, NotFoundError)
    assert err.code == "model_not_found"


def test_moderation_metadata():
    body = or_error(403, "flagged", {"reasons": ["harassment"], "provider_name": "OpenAI"})
    err = error_from_response(403, {}, body, now=NOW)
    assert isinstance(err, ModerationError)
    assert err.reasons == ("harassment",)
    assert err.provider == "OpenAI"


def test_in_band_error_code_decides_when_status_is_200():
    body = {"error": {"code": "server_error", "message": "Provider disconnected"}}
    assert isinstance(error_from_response(200, None, body, now=NOW), ProviderDown)
    body = {"error": {"code": 402, "message": "no credits"}}
    assert isinstance(error_from_response(200, None, body, now=NOW), PaymentRequired)


def test_error_type_2026_timeout():
    body = or_error(504, "timed out", {"error_type": "timeout"})
    assert isinstance(error_from_response(504, {}, body, now=NOW), SourceTimeout)


def test_availability_retryable_overrides_default():
    body = or_error(503, "down", availability={"code": "x", "retryable": False})
    assert not error_from_response(503, {}, body, now=NOW).retryable


def test_messages_are_redacted():
    key = "sk-or-v1-0123456789abcdef0123456789abcdef"
    err = error_from_response(
        401, {}, or_error(401, f"Invalid key {key} (Bearer {key})"), now=NOW, secrets=(key,)
    )
    for text in (str(err), repr(err), err.user_message):
        assert key not in text
        assert "sk-or-v1-0123" not in text


def test_redact_custom_secret_and_bearer():
    assert redact("token=abc123secret", ("abc123secret",)) == "token=[REDACTED]"
    assert "xyz987" not in redact("Authorization: Bearer xyz987")


@given(
    prefix=st.text(max_size=30),
    suffix=st.text(max_size=30),
    key=st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_.", min_size=8, max_size=64),
)
def test_redact_never_leaves_a_given_secret(prefix, suffix, key):
    out = redact(prefix + key + suffix + key, (key,))
    assert key not in out


@given(body=st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_", min_size=4, max_size=60))
def test_redact_masks_any_openrouter_style_key(body):
    key = "sk-or-" + body
    assert "sk-or-" not in redact(f"error: {key} rejected")
