"""LocaLLama Router: which LLM to send a task to, and what it will cost."""

__version__ = "0.1.0"
