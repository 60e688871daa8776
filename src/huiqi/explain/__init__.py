"""Explanations as data: the engine says *what* happened as a code with parameters
(`model.py`); each interface renders it, all through the one Chinese renderer (`zh.py`), so
the terminal, the API and the web page say the same thing in the same words."""

from .model import Reason, Step
from .zh import render

__all__ = ["Reason", "Step", "render"]
