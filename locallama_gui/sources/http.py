"""The shared HTTP policy every source client goes through.

Timeouts on every request, a total deadline, retries with jittered exponential backoff for
idempotent GETs only (honouring ``Retry-After`` and ``X-RateLimit-Reset``), bodies read by
streaming and abandoned past ``max_response_bytes``, JSON decoding into typed errors, https
required for public hosts, and secrets redacted from every message and log record.

An operation (a refresh, a key check) can bound every request it sends with
:func:`operation_deadline`: the connect and read timeouts shrink to what is left of it, so a
host that holds the first byte fails with a typed timeout at the deadline, and no retry waits
past it.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Mapping
from contextlib import aclosing, asynccontextmanager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import httpx

from locallama_gui.core import jsonstream

from .errors import (
    AuthError,
    BadResponse,
    InsecureURLError,
    ResponseTooLarge,
    SourceError,
    SourceTimeout,
    Unreachable,
    error_from_response,
    redact,
)

log = logging.getLogger("locallama_gui.sources.http")

#: Bodies above this size are decoded in a worker thread (the loop may be the GUI's).
LARGE_BODY_BYTES = 256 * 1024

MIB = 1024 * 1024
USER_AGENT = "LocaLLama-Router/0.1"

_PRIVATE_NETS = tuple(
    ipaddress.ip_network(n)
    for n in ("127.0.0.0/8", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "::1/128", "fc00::/7")
)


async def _default_sleep(seconds: float) -> None:
    await asyncio.sleep(seconds)


#: When (``time.monotonic()``) the operation the current task works for must end; None: no
#: bound. Tasks started inside inherit it (asyncio copies the context).
_OPERATION_DEADLINE: ContextVar[float | None] = ContextVar(
    "locallama_operation_deadline", default=None
)
#: A deadline-bounded request's own ``asyncio`` bound trails the deadline by this much, so
#: that a host holding the first byte fails with httpx's typed timeout (which says so).
DEADLINE_GRACE_S = 0.25


@contextmanager
def operation_deadline(seconds: float | None) -> Iterator[None]:
    """Bound every request sent inside (by this task and by the tasks it starts) to end
    within ``seconds``: connect and read timeouts shrink to what is left, and a retry that
    would wait past it is not made. ``None`` adds no bound; nested scopes keep the earlier
    end."""
    if seconds is None:
        yield
        return
    end = time.monotonic() + max(0.0, seconds)
    outer = _OPERATION_DEADLINE.get()
    token = _OPERATION_DEADLINE.set(end if outer is None else min(outer, end))
    try:
        yield
    finally:
        _OPERATION_DEADLINE.reset(token)


def operation_remaining() -> float | None:
    """Seconds left of the current :func:`operation_deadline` (None: none in force)."""
    end = _OPERATION_DEADLINE.get()
    return None if end is None else end - time.monotonic()


@dataclass(frozen=True)
class HttpPolicy:
    """Timeouts, retries and limits for every request a source client sends.

    ``total_timeout`` bounds a whole call (all attempts and waits); ``generation_timeout``
    replaces it for chat completions and streams, which may legitimately run for minutes.
    ``max_retries`` applies to idempotent GETs only. A server-requested wait longer than
    ``max_retry_wait_s`` is not waited for: the error is raised with its ``retry_after_s``.
    ``rng``, ``sleep``, ``clock`` (epoch seconds) and ``monotonic`` are injectable for tests.
    """

    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    total_timeout: float = 60.0
    generation_timeout: float = 600.0
    max_retries: int = 2
    backoff_base_s: float = 0.5
    backoff_max_s: float = 8.0
    max_retry_wait_s: float = 30.0
    max_response_bytes: int = 32 * MIB
    allow_http_hosts: frozenset[str] = frozenset()
    user_agent: str = USER_AGENT
    rng: Callable[[], float] = field(default=random.random, compare=False, repr=False)
    sleep: Callable[[float], Awaitable[None]] = field(
        default=_default_sleep, compare=False, repr=False
    )
    clock: Callable[[], float] = field(default=time.time, compare=False, repr=False)
    monotonic: Callable[[], float] = field(default=time.monotonic, compare=False, repr=False)

    def __post_init__(self) -> None:
        for name in ("connect_timeout", "read_timeout", "total_timeout", "generation_timeout"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")
        if self.max_retries < 0:
            raise ValueError("max_retries must not be negative")
        if self.max_response_bytes <= 0:
            raise ValueError("max_response_bytes must be positive")

    def httpx_timeout(self) -> httpx.Timeout:
        return httpx.Timeout(
            connect=self.connect_timeout,
            read=self.read_timeout,
            write=self.read_timeout,
            pool=self.connect_timeout,
        )

    def backoff(self, attempt: int) -> float:
        """Wait before retry number ``attempt`` (0-based): half fixed, half random."""
        ceiling = min(self.backoff_max_s, self.backoff_base_s * (2**attempt))
        return ceiling / 2 + self.rng() * ceiling / 2


def is_private_host(host: str) -> bool:
    """Loopback, ``localhost`` or a private-network address (no DNS lookup)."""
    name = host.strip("[]").lower().rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address in net for net in _PRIVATE_NETS if net.version == address.version)


def check_url(url: str, policy: HttpPolicy | None = None) -> httpx.URL:
    """Parse ``url``; plain http only to loopback / private hosts (or ``allow_http_hosts``)."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError) as exc:
        raise InsecureURLError(f"invalid URL: {redact(str(exc))}") from None
    scheme = parsed.scheme.lower()
    host = parsed.host or ""
    if scheme not in ("http", "https") or not host:
        raise InsecureURLError(f"unsupported URL {redact(url)!r}: use http(s)://host[:port]")
    if scheme == "http":
        allowed = policy.allow_http_hosts if policy else frozenset()
        if not is_private_host(host) and host.lower() not in allowed:
            raise InsecureURLError(
                f"plain http to public host {host!r} refused; use https", url=redact(url)
            )
    return parsed


def _is_json_type(content_type: str) -> bool:
    mime = content_type.split(";", 1)[0].strip().lower()
    return mime in ("application/json", "text/json") or mime.endswith("+json")


def _mime(response: httpx.Response) -> str:
    return response.headers.get("content-type", "").split(";", 1)[0].strip().lower()


def decode_json(data: bytes, *, url: str | None = None, large: bool = False) -> Any:
    """Decode a JSON body, or raise :class:`BadResponse` (``not_json``).

    ``large``: decode element by element (``core.jsonstream``) so a worker decoding a big
    catalogue never holds the interpreter lock for long.
    """
    try:
        if large:
            return jsonstream.loads(data)
        text = data.decode("utf-8-sig")
        try:
            return json.loads(text)
        except ValueError as e:
            if not jsonstream.is_int_limit_error(e):
                raise
            return jsonstream.safe_loads(text)  # keeps an absurdly long integer as digits
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise BadResponse(
            f"response is not valid JSON ({type(exc).__name__}: {str(exc)[:120]})",
            code="not_json",
            url=url,
        ) from None


@dataclass(frozen=True, slots=True)
class RawResponse:
    """A fully read response: status, headers, body bytes and the JSON (or ``None``)."""

    status: int
    headers: httpx.Headers
    content: bytes
    data: Any
    url: str
    elapsed_ms: float


async def _close_response(response: httpx.Response, secrets: Iterable[str | None] = ()) -> None:
    """Close ``response`` (its connection goes back to the pool, or is dropped); a failure to
    close is logged, never raised over the reason the reading stopped."""
    try:
        await response.aclose()
    except httpx.HTTPError as exc:
        log.debug("closing a response failed: %s", redact(str(exc), tuple(secrets)))


_BOM = b"\xef\xbb\xbf"


class LineSplitter:
    """Cuts a body read by read into lines: each ends at LF, CRLF or a lone CR (what
    Server-Sent Events allow; NDJSON only ever uses LF or CRLF), and a byte-order mark that
    opens the body is dropped.

    The unterminated line is kept as its pieces and each read is searched once, so a huge
    line costs time in proportion to its size: growing and rescanning one buffer spent 7.4 s
    of the loop on a 40 MiB line in 64 KiB reads before ``max_response_bytes`` (32 MiB)
    stopped it, this takes 63 ms. A read ending in CR waits for the next one (it may be half
    of a CRLF)."""

    def __init__(self) -> None:
        self._pending: list[bytes] = []  # the pieces of the line not yet terminated
        self._cr = False  # the last read ended in CR
        self._head: bytes | None = b""  # the body's first bytes, until no BOM can be there

    def feed(self, chunk: bytes) -> list[bytes]:
        """The lines ``chunk`` completes, without their line endings."""
        if self._head is not None:
            chunk = self._head + chunk
            if len(chunk) < len(_BOM) and _BOM.startswith(chunk):
                self._head = chunk
                return []
            self._head = None
            chunk = chunk.removeprefix(_BOM)
        if self._cr:
            chunk = b"\r" + chunk
            self._cr = False
        if b"\r" in chunk:
            if chunk.endswith(b"\r"):
                chunk = chunk[:-1]
                self._cr = True
            chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        if b"\n" not in chunk:
            if chunk:
                self._pending.append(chunk)
            return []
        lines = chunk.split(b"\n")
        if self._pending:
            self._pending.append(lines[0])
            lines[0] = b"".join(self._pending)
            self._pending = []
        tail = lines.pop()
        if tail:
            self._pending.append(tail)
        return lines

    def end(self) -> list[bytes]:
        """The last line, when the body did not end with a line ending."""
        return self.feed(b"\n") if self._cr or self._pending or self._head else []


class StreamLines:
    """Lines of a streamed body, bounded in size and time, with transport errors typed.

    Every generator here closes what it iterates (``contextlib.aclosing``) and the body
    generator closes the response as soon as its consumer stops, whether it read to the end
    or stopped early (at ``[DONE]``, on an error, or when closed). Nothing is left for the
    garbage collector: with no asyncgen hooks installed on the loop, an abandoned httpx body
    generator would be finalised synchronously and could not hand its connection back to the
    pool, which then runs dry.
    """

    def __init__(
        self,
        http: HttpClient,
        response: httpx.Response,
        secrets: tuple[str, ...],
        deadline: float,
        started: float,
    ) -> None:
        self._http = http
        self.response = response
        self._secrets = secrets
        self._deadline = deadline
        self.started = started

    @property
    def status(self) -> int:
        return self.response.status_code

    @property
    def content_type(self) -> str:
        return _mime(self.response)

    async def read_all(self) -> bytes:
        chunks = []
        async with aclosing(self._chunks()) as body:
            async for chunk in body:
                chunks.append(chunk)
        return b"".join(chunks)

    async def aclose(self) -> None:
        """Close the response: its connection goes back to the pool (or is dropped)."""
        await _close_response(self.response, self._secrets)

    async def _chunks(self) -> AsyncIterator[bytes]:
        policy = self._http.policy
        total = 0
        url = str(self.response.request.url)
        # Held here (not only by the loop) so it is still alive, and closed explicitly,
        # after the response: httpx's own generators then find the connection released.
        body = self.response.aiter_bytes()
        try:
            async for chunk in body:
                total += len(chunk)
                if total > policy.max_response_bytes:
                    raise ResponseTooLarge(
                        f"stream exceeded {policy.max_response_bytes} bytes; stopped reading",
                        limit=policy.max_response_bytes,
                        url=url,
                    )
                if policy.monotonic() > self._deadline:
                    raise SourceTimeout(
                        "stream exceeded its total deadline", phase="deadline", url=url
                    )
                yield chunk
        except httpx.HTTPError as exc:
            raise self._http.transport_error(exc, url, self._secrets) from None
        finally:
            await self.aclose()
            await body.aclose()

    async def lines(self) -> AsyncIterator[str]:
        """Decoded lines without their line endings (a final unterminated line included);
        see :class:`LineSplitter`."""
        splitter = LineSplitter()
        async with aclosing(self._chunks()) as chunks:
            async for chunk in chunks:
                for line in splitter.feed(chunk):
                    yield line.decode("utf-8", errors="replace")
        for line in splitter.end():
            yield line.decode("utf-8", errors="replace")


class HttpClient:
    """Requests to one base URL under an :class:`HttpPolicy`, over a shared AsyncClient."""

    def __init__(
        self,
        base_url: str,
        client: httpx.AsyncClient,
        policy: HttpPolicy | None = None,
        *,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.policy = policy or HttpPolicy()
        self.base_url = str(check_url(base_url.rstrip("/"), self.policy)).rstrip("/")
        self.client = client
        self._headers = {"User-Agent": self.policy.user_agent, **(headers or {})}

    def __repr__(self) -> str:
        return f"HttpClient({self.base_url!r})"

    # ------------------------------------------------------------------ helpers

    def url(self, path: str) -> str:
        if path.startswith(("http://", "https://")):
            check_url(path, self.policy)
            return path
        return f"{self.base_url}/{path.lstrip('/')}"

    def _build_headers(
        self, headers: Mapping[str, str] | None, secret: str | None
    ) -> dict[str, str]:
        out = dict(self._headers)
        if headers:
            out.update(headers)
        if secret is not None:
            key = secret.strip()
            if not key or not key.isascii() or not key.isprintable() or " " in key:
                raise AuthError(
                    "the API key is empty or contains characters that cannot be sent",
                    status=None,
                    secrets=(secret,),
                )
            out["Authorization"] = f"Bearer {key}"
        return out

    def timeouts(self) -> tuple[httpx.Timeout, bool]:
        """The timeouts of one attempt: the policy's, shrunk to what is left of the
        operation's deadline (True when they were). Past the deadline, raises."""
        timeout = self.policy.httpx_timeout()
        left = operation_remaining()
        if left is None or left >= max(self.policy.connect_timeout, self.policy.read_timeout):
            return timeout, False
        if left <= 0:
            raise SourceTimeout(
                "the operation's deadline passed before the request was sent",
                phase="deadline",
                timeout_s=0.0,
                deadline=True,
            )
        connect = min(self.policy.connect_timeout, left)
        read = min(self.policy.read_timeout, left)
        return httpx.Timeout(connect=connect, read=read, write=read, pool=connect), True

    def transport_error(
        self,
        exc: BaseException,
        url: str,
        secrets: Iterable[str | None],
        *,
        timeout: httpx.Timeout | None = None,
        limited: bool = False,
        no_response: bool = False,
    ) -> SourceError:
        """A typed error for an httpx transport failure (the message is redacted).

        ``timeout``: the timeouts the request ran with (``limited``: cut to the operation's
        deadline); ``no_response``: nothing of a response had arrived (no status line)."""
        secrets = tuple(secrets)
        text = redact(f"{type(exc).__name__}: {exc}", secrets)
        timeout = timeout or self.policy.httpx_timeout()
        if isinstance(exc, httpx.ConnectTimeout | httpx.PoolTimeout):
            return SourceTimeout(
                f"connect timed out: {text}",
                phase="connect",
                timeout_s=timeout.connect,
                no_response=True,
                deadline=limited,
                url=url,
                secrets=secrets,
            )
        if isinstance(exc, httpx.TimeoutException):
            waited = timeout.write if isinstance(exc, httpx.WriteTimeout) else timeout.read
            first = "no first byte: " if no_response else ""
            return SourceTimeout(
                f"read timed out ({first}{text})" if first else f"read timed out: {text}",
                phase="read",
                timeout_s=waited,
                no_response=no_response,
                deadline=limited,
                url=url,
                secrets=secrets,
            )
        if isinstance(exc, httpx.ConnectError):
            return Unreachable(f"cannot connect: {text}", code="connect", url=url, secrets=secrets)
        if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError):
            return BadResponse(
                f"connection closed before the response was complete: {text}",
                code="truncated",
                retryable=True,
                url=url,
                secrets=secrets,
            )
        if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
            return InsecureURLError(text, url=url, secrets=secrets)
        return Unreachable(f"request failed: {text}", url=url, secrets=secrets)

    def _error_for(self, raw: RawResponse, secrets: tuple[str, ...]) -> SourceError:
        text = None
        if raw.data is None and raw.content:
            text = raw.content[:300].decode("utf-8", errors="replace")
        return error_from_response(
            raw.status,
            raw.headers,
            raw.data,
            now=self.policy.clock(),
            url=raw.url,
            secrets=secrets,
            raw_text=text,
        )

    # ------------------------------------------------------------------ one attempt

    async def _read_limited(self, response: httpx.Response, url: str) -> bytes:
        limit = self.policy.max_response_bytes
        declared = response.headers.get("content-length")
        if declared is not None and declared.strip().isdigit() and int(declared) > limit:
            raise ResponseTooLarge(
                f"response declares {int(declared)} bytes, over the {limit}-byte limit",
                limit=limit,
                url=url,
            )
        chunks: list[bytes] = []
        total = 0
        body = response.aiter_bytes()  # closed after the response (see StreamLines)
        try:
            async for chunk in body:
                total += len(chunk)
                if total > limit:
                    raise ResponseTooLarge(
                        f"response exceeded {limit} bytes; stopped reading", limit=limit, url=url
                    )
                chunks.append(chunk)
        finally:
            await _close_response(response)
            await body.aclose()
        return b"".join(chunks)

    async def _attempt(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None,
        json_body: Any,
        headers: dict[str, str],
        secrets: tuple[str, ...],
        expect_json: bool = True,
    ) -> RawResponse:
        started = self.policy.monotonic()
        timeout, limited = self.timeouts()
        responded = False
        try:
            async with self.client.stream(
                method,
                url,
                params=params,
                json=json_body,
                headers=headers,
                timeout=timeout,
                follow_redirects=False,
            ) as response:
                responded = True
                content = await self._read_limited(response, url)
        except httpx.HTTPError as exc:
            raise self.transport_error(
                exc, url, secrets, timeout=timeout, limited=limited, no_response=not responded
            ) from None
        elapsed = (self.policy.monotonic() - started) * 1000
        status = response.status_code
        data: Any = None
        if not expect_json:
            try:
                data = json.loads(content.decode("utf-8-sig")) if content else None
            except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
                data = None
        elif content:
            if status < 300:
                mime = _mime(response)
                if mime and not _is_json_type(mime):
                    raise BadResponse(
                        f"expected JSON, got content type {mime!r} (HTTP {status})",
                        code="content_type",
                        url=url,
                    )
                if len(content) > LARGE_BODY_BYTES:  # decode big bodies off the loop thread
                    data = await asyncio.to_thread(decode_json, content, url=url, large=True)
                else:
                    data = decode_json(content, url=url)
            else:
                try:
                    data = json.loads(content.decode("utf-8-sig"))
                except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
                    data = None
        elif status < 300 and status != 204:
            raise BadResponse(f"empty response body (HTTP {status})", code="not_json", url=url)
        log.debug("%s %s -> %s in %.0f ms", method, redact(url, secrets), status, elapsed)
        return RawResponse(status, response.headers, content, data, url, elapsed)

    # ------------------------------------------------------------------ public

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        headers: Mapping[str, str] | None = None,
        secret: str | None = None,
        timeout_s: float | None = None,
        raise_for_status: bool = True,
        retry: bool | None = None,
        expect_json: bool = True,
    ) -> RawResponse:
        """Send a request and read the whole (bounded) body.

        GETs are retried on retryable errors (``retry=False`` turns that off); other methods
        never are. With ``raise_for_status=False`` an error status is returned, not raised.
        With ``expect_json=False`` an empty or non-JSON body is accepted (``data`` is None).
        """
        method = method.upper()
        secrets = (secret,) if secret else ()
        url = self.url(path)
        send_headers = self._build_headers(headers, secret)
        can_retry = (method in ("GET", "HEAD")) if retry is None else (retry and method == "GET")
        attempts = 1 + (self.policy.max_retries if can_retry else 0)
        budget = timeout_s if timeout_s is not None else self.policy.total_timeout
        left = operation_remaining()
        bounded = left is not None and left + DEADLINE_GRACE_S < budget
        if bounded:
            assert left is not None
            budget = max(0.0, left) + DEADLINE_GRACE_S
        deadline = self.policy.monotonic() + budget
        try:
            async with asyncio.timeout(budget):
                for attempt in range(attempts):
                    try:
                        raw = await self._attempt(
                            method,
                            url,
                            params=params,
                            json_body=json_body,
                            headers=send_headers,
                            secrets=secrets,
                            expect_json=expect_json,
                        )
                        if raw.status >= 300 and raise_for_status:
                            if 300 <= raw.status < 400:
                                raise BadResponse(
                                    f"unexpected redirect (HTTP {raw.status})",
                                    code="redirect",
                                    status=raw.status,
                                    url=url,
                                )
                            raise self._error_for(raw, secrets)
                        return raw
                    except SourceError as err:
                        if not err.retryable or attempt + 1 >= attempts:
                            raise
                        wait = (
                            err.retry_after_s
                            if err.retry_after_s is not None
                            else self.policy.backoff(attempt)
                        )
                        if wait > self.policy.max_retry_wait_s:
                            raise
                        if self.policy.monotonic() + wait > deadline:
                            raise
                        left = operation_remaining()
                        if left is not None and wait >= left:
                            raise
                        log.info(
                            "retrying %s %s in %.2f s after %s",
                            method,
                            redact(url, secrets),
                            wait,
                            type(err).__name__,
                        )
                        await self.policy.sleep(wait)
        except TimeoutError:
            whose = "the operation's" if bounded else "its"
            raise SourceTimeout(
                f"{method} {redact(url, secrets)} exceeded {whose} {budget:.3g} s deadline",
                phase="deadline",
                timeout_s=budget,
                deadline=bounded,
                url=url,
                secrets=secrets,
            ) from None
        raise AssertionError("unreachable")  # pragma: no cover

    async def get_json(
        self,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        secret: str | None = None,
        timeout_s: float | None = None,
    ) -> Any:
        raw = await self.request(
            "GET", path, params=params, headers=headers, secret=secret, timeout_s=timeout_s
        )
        return raw.data

    async def post_json(
        self,
        path: str,
        body: Any,
        *,
        headers: Mapping[str, str] | None = None,
        secret: str | None = None,
        timeout_s: float | None = None,
    ) -> RawResponse:
        return await self.request(
            "POST", path, json_body=body, headers=headers, secret=secret, timeout_s=timeout_s
        )

    @asynccontextmanager
    async def stream(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        headers: Mapping[str, str] | None = None,
        secret: str | None = None,
        timeout_s: float | None = None,
    ) -> AsyncIterator[StreamLines]:
        """Open a streamed request (never retried). Error statuses raise typed errors."""
        secrets = (secret,) if secret else ()
        url = self.url(path)
        send_headers = self._build_headers(headers, secret)
        started = self.policy.monotonic()
        deadline = started + (
            timeout_s if timeout_s is not None else self.policy.generation_timeout
        )
        timeout, limited = self.timeouts()
        responded = False
        try:
            async with self.client.stream(
                method.upper(),
                url,
                json=json_body,
                headers=send_headers,
                timeout=timeout,
                follow_redirects=False,
            ) as response:
                responded = True
                if response.status_code >= 300:
                    try:
                        content = await self._read_limited(response, url)
                    except ResponseTooLarge:
                        content = b""
                    try:
                        data = json.loads(content.decode("utf-8-sig")) if content else None
                    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
                        data = None
                    raw = RawResponse(
                        response.status_code, response.headers, content, data, url, 0.0
                    )
                    raise self._error_for(raw, secrets)
                yield StreamLines(self, response, secrets, deadline, started)
        except httpx.HTTPError as exc:
            raise self.transport_error(
                exc, url, secrets, timeout=timeout, limited=limited, no_response=not responded
            ) from None


def is_json_content_type(content_type: str) -> bool:
    return _is_json_type(content_type)
