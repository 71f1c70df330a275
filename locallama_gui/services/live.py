"""The live side of the services: one shared HTTP client, one source client per endpoint.

:class:`LiveServices` owns the ``httpx.AsyncClient`` every source client shares, builds the
client of each configured endpoint (OpenRouter, Ollama, LM Studio, OpenAI-compatible servers),
finds the client that serves a given model, and asks every endpoint for its models
(:meth:`LiveServices.fetch_all`: which servers are up, with what). Qt-free and asyncio-only:
the CLI drives it with ``asyncio.run``, the GUI from its qasync loop.

The OpenRouter API key is held here only to be passed per call; it never appears in a
status, an error message or a log record.

Asking the servers is bounded: :meth:`LiveServices.fetch_all` and
:meth:`LiveServices.key_status` end within one overall deadline (``services.deadline``), and
a host that does not answer is recorded with the quarantine (``services.hosts``), so a run
right after skips it instead of waiting for it again.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from locallama_gui.core.breaker import format_seconds
from locallama_gui.core.models import ModelInfo, ParseResult, Skipped, Source
from locallama_gui.core.redaction import register_secret
from locallama_gui.core.settings import Settings
from locallama_gui.services.deadline import DEFAULT_FETCH_DEADLINE_S, stopped_message
from locallama_gui.services.facade import Services
from locallama_gui.services.hosts import HostWatch
from locallama_gui.services.probe import KIND_LABELS
from locallama_gui.services.quarantine import Quarantine
from locallama_gui.services.views import model_view
from locallama_gui.sources import (
    HttpPolicy,
    KeyStatus,
    LMStudioClient,
    OllamaClient,
    OpenAICompatClient,
    OpenRouterClient,
    SourceError,
    SourceTimeout,
    Unreachable,
    client_for,
    operation_deadline,
    operation_remaining,
    redact,
)
from locallama_gui.sources.asyncio_net import direct_transport

# Idle connections are dropped after 4 s: many servers (uvicorn, Python's http.server, several
# proxies) close an idle keep-alive connection at 5 s, and a POST sent on a connection the
# server is closing fails with nothing read, which must not cost a model in the chain.
POOL_LIMITS = httpx.Limits(max_connections=200, max_keepalive_connections=50, keepalive_expiry=4.0)

log = logging.getLogger(__name__)

SourceClient = OpenRouterClient | OllamaClient | LMStudioClient | OpenAICompatClient
Progress = Callable[[int, int], None]

#: Longest error text kept in a source status.
MAX_ERROR_CHARS = 300
#: A fetch's own bound trails the operation's deadline by this much (the requests in it are
#: bounded by the deadline itself; this only catches what is not a request).
FETCH_GRACE_S = 1.0


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One server to talk to. ``kind`` is OPENROUTER, OLLAMA, LMSTUDIO or OPENAI_COMPAT."""

    kind: Source
    url: str


def normalise_url(url: str) -> str:
    """``http://host:1234/v1/`` -> ``http://host:1234`` (how servers are matched)."""
    text = url.strip().rstrip("/")
    if text.endswith("/v1"):
        text = text[: -len("/v1")]
    return text.rstrip("/").lower()


def configured_endpoints(
    settings: Settings,
    *,
    openrouter_url: str | None = None,
    ollama_url: str | None = None,
    lmstudio_url: str | None = None,
    server_urls: Sequence[str] | None = None,
) -> tuple[Endpoint, ...]:
    """The endpoints to use: the settings, with per-run URL overrides.

    A URL given here enables that endpoint for the run even when it is disabled in the
    settings; ``server_urls`` (OpenAI-compatible servers) replaces the configured list.
    """
    e = settings.endpoints
    out: list[Endpoint] = []
    if openrouter_url or e.openrouter_enabled:
        out.append(Endpoint(Source.OPENROUTER, openrouter_url or e.openrouter_url))
    if ollama_url or e.ollama_enabled:
        out.append(Endpoint(Source.OLLAMA, ollama_url or e.ollama_url))
    if lmstudio_url or e.lmstudio_enabled:
        out.append(Endpoint(Source.LMSTUDIO, lmstudio_url or e.lmstudio_url))
    if server_urls is not None:
        extra: Iterable[str] = server_urls
    else:
        extra = e.extra_server_urls if e.extra_servers_enabled else ()
    out.extend(Endpoint(Source.OPENAI_COMPAT, url) for url in extra)
    seen: set[tuple[Source, str]] = set()
    unique = []
    for ep in out:
        key = (ep.kind, normalise_url(ep.url))
        if key not in seen:
            seen.add(key)
            unique.append(ep)
    return tuple(unique)


def endpoint_kind(source: Source) -> Source:
    """The endpoint kind that serves models of ``source``."""
    if source in (Source.OPENROUTER, Source.OLLAMA, Source.LMSTUDIO):
        return source
    return Source.OPENAI_COMPAT


def describe_error(error: BaseException) -> str:
    """One line a user can act on: what to do, then what happened (redacted)."""
    if isinstance(error, SourceError):
        detail = error.message
        text = error.user_message
        if detail and detail not in text:
            text = f"{text} ({detail})"
    else:
        text = f"{type(error).__name__}: {redact(str(error))}"
    text = " ".join(text.split())
    if len(text) > MAX_ERROR_CHARS:
        text = text[: MAX_ERROR_CHARS - 1] + "…"
    return text


def _waited(error: SourceTimeout, deadline_s: float | None) -> float | None:
    """How long a timed-out request waited, as it is worth telling."""
    if error.deadline and deadline_s is not None:
        return deadline_s
    return error.timeout_s


def describe_fetch_error(error: BaseException, deadline_s: float | None = None) -> str:
    """A source's failure, in the words of asking it for its models (never "pick another
    model": there is no model yet)."""
    if isinstance(error, SourceTimeout) and error.phase != "server":
        waited = _waited(error, deadline_s)
        within = f" within {format_seconds(waited)}" if waited is not None else ""
        if error.no_response or error.phase == "connect":
            what = f"did not answer{within}"
        else:
            what = f"did not finish answering{within}"
        if error.deadline:
            what += " (stopped at the deadline)"
        return what
    return describe_error(error)


def source_label(kind: str, url: str) -> str:
    """``OpenRouter``, ``Ollama``, ``LM Studio``... or ``the server at URL``."""
    label = KIND_LABELS.get(kind)
    if label is None or kind == "openai_compat":
        return f"the server at {url}"
    return label


def deadline_summary(statuses: Sequence[SourceStatus], deadline_s: float | None) -> str | None:
    """``stopped after 15 s: OpenRouter did not answer`` when the deadline stopped some
    source, else None."""
    if deadline_s is None:
        return None
    stopped = [source_label(s.kind, s.url) for s in statuses if s.deadline_hit]
    if not stopped:
        return None
    names = stopped[0] if len(stopped) == 1 else ", ".join(stopped[:-1]) + " and " + stopped[-1]
    return stopped_message(deadline_s, f"{names} did not answer")


@dataclass(frozen=True, slots=True)
class SourceStatus:
    """What one endpoint answered: up with its models, or down with why."""

    kind: str  # Source value; OpenAI-compatible servers say which (llamacpp, vllm) when up
    url: str
    up: bool
    error: str | None = None
    duration_ms: float = 0.0
    models: tuple[ModelInfo, ...] = ()
    skipped: tuple[Skipped, ...] = ()
    kept_previous: int = 0  # a failing source: how many last-good models were kept
    timed_out: bool = False  # it did not answer in time (see ``error``)
    deadline_hit: bool = False  # the operation's deadline stopped it
    # an answering source whose entries could not all be read: how many of those kept their
    # last good record (an unreadable entry is never reported as removed, repriced or ended)
    kept_unreadable: int = 0

    @property
    def unreadable(self) -> int:
        """How many entries of the answer could not be read (see ``skipped``)."""
        return len(self.skipped)

    @property
    def model_count(self) -> int:
        return len(self.models)

    def to_dict(self, *, include_models: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "kind": self.kind,
            "url": self.url,
            "up": self.up,
            "error": self.error,
        }
        if include_models:
            out["models"] = [model_view(m) for m in self.models]
        return out


class LiveServices:
    """The shared HTTP client and the source clients of the configured endpoints.

    Use as ``async with LiveServices(services, ...) as live:``, or call :meth:`aclose`.
    A client passed in is shared and not closed here.
    """

    def __init__(
        self,
        services: Services,
        *,
        endpoints: Sequence[Endpoint] | None = None,
        api_key: str | None = None,
        policy: HttpPolicy | None = None,
        local_policy: HttpPolicy | None = None,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.services = services
        self.endpoints: tuple[Endpoint, ...] = tuple(
            endpoints if endpoints is not None else configured_endpoints(services.settings)
        )
        self.api_key = api_key or None
        register_secret(self.api_key)  # masked in every text from now on, whole or in pieces
        self.policy = policy or HttpPolicy()
        # A local server that refuses connections will not start within a retry's backoff.
        self.local_policy = local_policy or dataclasses.replace(self.policy, max_retries=0)
        self._http = client
        self._owns_http = client is None
        self._clients: dict[tuple[Source, str], SourceClient] = {}
        # clients are built on first use, and the runner asks for one from worker threads
        # (its skip checks): built twice, the first shared client would never be closed
        self._build_lock = threading.RLock()
        #: models and hosts kept out after failures (hosts: see ``services.hosts``)
        self.quarantine = Quarantine(services.store, clock=services.clock)

    def __repr__(self) -> str:
        key = "set" if self.api_key else "none"
        return f"LiveServices({len(self.endpoints)} endpoints, key={key})"

    # --- lifecycle ------------------------------------------------------------------------

    @property
    def http(self) -> httpx.AsyncClient:
        if self._http is not None:
            return self._http
        with self._build_lock:
            return self._make_http()

    def _make_http(self) -> httpx.AsyncClient:
        if self._http is None:
            tls = ssl.create_default_context()  # loaded once, shared by both transports
            self._http = httpx.AsyncClient(
                trust_env=True, verify=tls, limits=POOL_LIMITS, mounts=self._direct_mounts(tls)
            )
        return self._http

    def _direct_mounts(self, tls: ssl.SSLContext) -> dict[str, httpx.AsyncBaseTransport]:
        """Local servers are reached directly, never through a proxy from the environment."""
        hosts = {"localhost", "127.0.0.1", "[::1]"}
        for ep in self.endpoints:
            if ep.kind is not Source.OPENROUTER:
                try:
                    host = httpx.URL(ep.url).host
                except (httpx.InvalidURL, TypeError, ValueError):
                    continue
                if host:
                    hosts.add(f"[{host}]" if ":" in host else host)
        direct = direct_transport(tls, POOL_LIMITS)  # plain asyncio: see sources.asyncio_net
        return {f"all://{h}": direct for h in sorted(hosts)}

    async def aclose(self) -> None:
        if self._http is not None and self._owns_http:
            await self._http.aclose()
        self._http = None
        self._clients.clear()

    async def __aenter__(self) -> LiveServices:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # --- clients --------------------------------------------------------------------------

    def client(self, endpoint: Endpoint) -> SourceClient:
        """The client of ``endpoint`` (built once). Raises ``InsecureURLError`` for a bad URL."""
        return self._client(endpoint.kind, endpoint.url, endpoint.kind)

    def _client(self, kind: Source, url: str, source: Source) -> SourceClient:
        key = (kind, normalise_url(url))
        found = self._clients.get(key)
        if found is not None:
            return found
        with self._build_lock:
            return self._make_client(key, kind, url, source)

    def _make_client(
        self, key: tuple[Source, str], kind: Source, url: str, source: Source
    ) -> SourceClient:
        found = self._clients.get(key)
        if found is not None:
            return found
        made: SourceClient
        if kind is Source.OPENROUTER:
            made = OpenRouterClient(url, self.http, self.policy)
        else:
            made = client_for(source, url, self.http, self.local_policy)
        self._clients[key] = made
        return made

    @property
    def openrouter_endpoint(self) -> Endpoint | None:
        return next((e for e in self.endpoints if e.kind is Source.OPENROUTER), None)

    def openrouter(self) -> OpenRouterClient | None:
        ep = self.openrouter_endpoint
        if ep is None:
            return None
        client = self.client(ep)
        assert isinstance(client, OpenRouterClient)
        return client

    def client_for_model(self, model: ModelInfo) -> SourceClient | None:
        """The client serving ``model``: its own server when known, else a configured one."""
        if model.source is Source.OPENROUTER:
            return self.openrouter()
        kind = endpoint_kind(model.source)
        url = model.local.server_url if model.local is not None else None
        if url:
            for ep in self.endpoints:
                if ep.kind is kind and normalise_url(ep.url) == normalise_url(url):
                    return self.client(ep)
            return self._client(kind, url, model.source)
        for ep in self.endpoints:
            if ep.kind is kind:
                return self.client(ep)
        return None

    # --- sources --------------------------------------------------------------------------

    async def fetch(
        self,
        endpoint: Endpoint,
        *,
        hosts: HostWatch | None = None,
        deadline_s: float | None = None,
    ) -> SourceStatus:
        """Ask one endpoint for its models; a failure becomes a status, never an exception.

        Inside an ``operation_deadline`` it ends with it (``deadline_s``: that deadline, to
        say so). ``hosts`` learns whether the endpoint's host answered."""
        started = time.monotonic()
        kind = endpoint.kind.value
        url = endpoint.url
        left = operation_remaining()
        try:
            client = self.client(endpoint)
            url = client.base_url
            async with asyncio.timeout(None if left is None else left + FETCH_GRACE_S):
                result = await self._list_models(client)
            kind = client.source.value
        except (SourceError, TimeoutError) as e:
            error: SourceError
            if isinstance(e, SourceError):
                error = e
                if hosts is not None:
                    hosts.failed(url, e, self.services.clock())
            else:  # the deadline stopped what was not a request
                error = SourceTimeout(
                    "stopped at the operation's deadline",
                    phase="deadline",
                    timeout_s=deadline_s,
                    no_response=True,
                    deadline=True,
                )
            timed_out = isinstance(error, SourceTimeout) and error.phase != "server"
            return SourceStatus(
                kind=kind,
                url=endpoint.url,
                up=False,
                error=describe_fetch_error(error, deadline_s),
                duration_ms=(time.monotonic() - started) * 1000,
                timed_out=timed_out,
                deadline_hit=timed_out and isinstance(error, SourceTimeout) and error.deadline,
            )
        if hosts is not None:
            await asyncio.to_thread(hosts.answered, url)  # may write the store
        return SourceStatus(
            kind=kind,
            url=endpoint.url,
            up=True,
            duration_ms=(time.monotonic() - started) * 1000,
            models=result.models,
            skipped=result.skipped,
        )

    @staticmethod
    async def _list_models(client: SourceClient) -> ParseResult:
        if isinstance(client, OpenRouterClient):
            return await client.list_models()
        if isinstance(client, OllamaClient):
            return await client.tags()
        return await client.models()

    async def fetch_all(
        self,
        progress: Progress | None = None,
        *,
        deadline_s: float | None = DEFAULT_FETCH_DEADLINE_S,
    ) -> tuple[SourceStatus, ...]:
        """Every endpoint at once, in configuration order; ``progress(done, total)`` as each
        one answers. Everything ends within ``deadline_s`` (None: each request's own
        timeouts only); a source stopped by it says so (``deadline_hit``, and see
        :func:`deadline_summary`). Cancelling the caller cancels every request."""
        total = len(self.endpoints)
        done = 0
        hosts = HostWatch(self.quarantine)

        async def one(ep: Endpoint) -> SourceStatus:
            nonlocal done
            status = await self.fetch(ep, hosts=hosts, deadline_s=deadline_s)
            done += 1
            if progress is not None:
                progress(done, total)
            return status

        if not self.endpoints:
            return ()
        with operation_deadline(deadline_s):
            return tuple(await asyncio.gather(*(one(ep) for ep in self.endpoints)))

    # --- key ------------------------------------------------------------------------------

    async def key_status(self, *, deadline_s: float | None = DEFAULT_FETCH_DEADLINE_S) -> KeyStatus:
        """OpenRouter ``GET /key`` for the key given here (``AuthError`` without one), within
        ``deadline_s``. A timeout says so in the words of a key check (``timeout_s``: how
        long it waited); the host's answer or silence is recorded as a refresh's is."""
        client = self.openrouter()
        if client is None:
            raise SourceError(
                "OpenRouter is disabled",
                user_message="OpenRouter is disabled in the settings; enable it or pass "
                "--openrouter-url.",
            )
        hosts = HostWatch(self.quarantine)
        url = client.base_url
        try:
            with operation_deadline(deadline_s):
                bound = None if deadline_s is None else deadline_s + FETCH_GRACE_S
                async with asyncio.timeout(bound):
                    status = await client.key_status(self.api_key or "")
        except TimeoutError:
            stopped = SourceTimeout(
                "stopped at the deadline", phase="deadline", no_response=True, deadline=True
            )
            raise key_check_timeout(stopped, url, deadline_s) from None
        except SourceError as e:
            hosts.failed(url, e, self.services.clock())
            if isinstance(e, SourceTimeout) and e.phase != "server":
                raise key_check_timeout(e, url, deadline_s) from None
            if isinstance(e, Unreachable) and e.code == "connect":
                raise Unreachable(
                    e.message,
                    code=e.code,
                    url=e.url,
                    user_message=f"Could not connect to OpenRouter at {url}; check the network "
                    "and the OpenRouter URL.",
                ) from None
            raise
        await asyncio.to_thread(hosts.answered, url)
        # the daily free cap and today's count, as OpenRouter counts them (saves settings)
        await asyncio.to_thread(self.services.adopt_key_status, status)
        return status


def key_check_timeout(error: SourceTimeout, url: str, deadline_s: float | None) -> SourceTimeout:
    """A key check that timed out: "OpenRouter did not answer within 15 s; try again later
    or check the OpenRouter URL" (``timeout_s``: the wait; ``url``: where it asked)."""
    waited = _waited(error, deadline_s)
    within = f" within {format_seconds(waited)}" if waited is not None else " in time"
    verb = "did not answer" if error.no_response or error.phase == "connect" else "was too slow"
    return SourceTimeout(
        error.message,
        phase=error.phase,
        timeout_s=waited,
        no_response=error.no_response,
        deadline=error.deadline,
        url=url,
        user_message=f"OpenRouter {verb}{within}; try again later or check the OpenRouter "
        f"URL ({url}).",
    )


__all__ = [
    "Endpoint",
    "LiveServices",
    "SourceStatus",
    "configured_endpoints",
    "deadline_summary",
    "describe_error",
    "describe_fetch_error",
    "endpoint_kind",
    "key_check_timeout",
    "normalise_url",
    "source_label",
]
