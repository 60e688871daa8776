"""Chinese full-text search over the policy library (issue 5).

`search()` is the entry point (api.py); `build_index` / `rebuild_index` write index files
(index.py); `huiqi search` is the command line (cli.py).
"""

from .api import (
    ClauseHit,
    DocumentResult,
    FilterError,
    Filters,
    RuleRef,
    SearchResults,
    default_index,
    search,
)
from .index import SearchIndex, build_index, index_path_for, rebuild_index

__all__ = [
    "ClauseHit",
    "DocumentResult",
    "FilterError",
    "Filters",
    "RuleRef",
    "SearchIndex",
    "SearchResults",
    "build_index",
    "default_index",
    "index_path_for",
    "rebuild_index",
    "search",
]
