"""`python -m huiqi.cli`: the same commands as `huiqi`."""

from . import app

app()
