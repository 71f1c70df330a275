"""The local OpenAI-compatible gateway.

``service`` turns a client's request into a routed run over the services (the same routing,
runner, guardrails and records as ``locallama run``); ``app`` is the Starlette ASGI app
around it; ``host`` serves it with uvicorn on its own thread and event loop, so the window's
qasync loop never waits for it.
"""
