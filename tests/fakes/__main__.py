"""Run every fake standalone: ``python -m tests.fakes [--seconds N] [--host H]``.

Prints each server's base URL and serves until Ctrl-C or until ``--seconds`` have passed.
"""

from __future__ import annotations

import argparse
import sys
import time

from .hung import HungServer
from .providers import FAKE_API_KEY, LMStudioFake, OllamaFake, OpenAICompatFake, OpenRouterFake
from .server import FakeServer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.fakes", description=__doc__)
    parser.add_argument("--seconds", type=float, default=None, help="stop after N seconds")
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to bind")
    args = parser.parse_args(argv)
    if args.seconds is not None and args.seconds <= 0:
        parser.error("--seconds must be positive")

    fakes: list[FakeServer] = [
        OpenRouterFake(host=args.host),
        OllamaFake(host=args.host),
        LMStudioFake(host=args.host),
        OpenAICompatFake(host=args.host, flavour="llamacpp"),
        OpenAICompatFake(host=args.host, flavour="vllm"),
    ]
    hung = HungServer(host=args.host)  # accepts, never answers: try --openrouter-url on it
    try:
        for fake in fakes:
            fake.start()
            print(f"{fake.name:<11} {fake.base_url}", flush=True)
        hung.start()
        print(f"{'hung':<11} {hung.url} (OpenRouter API: {hung.openrouter_url})", flush=True)
        print(f"OpenRouter key accepted by the fake: {FAKE_API_KEY}", flush=True)
        deadline = None if args.seconds is None else time.monotonic() + args.seconds
        print(
            "serving until Ctrl-C" if deadline is None else f"serving for {args.seconds:g} s",
            flush=True,
        )
        while deadline is None or time.monotonic() < deadline:
            time.sleep(0.1 if deadline is None else min(0.1, max(0.0, deadline - time.monotonic())))
    except KeyboardInterrupt:
        pass
    finally:
        for fake in fakes:
            fake.stop()
        hung.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
