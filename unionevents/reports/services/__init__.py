"""The reports' write side: the summary counters and everything that keeps them right.

* ``counters``: the hook the registration engine calls (``record_transition``) and ``sync_activity``,
  both inside the caller's transaction.
* ``settle``: ``settle_reach`` carries the reach rows the hook marked into ``report_reach_span``, in
  the background (``flask reports settle``), never in a request; ``freshness`` for the pages.
* ``rebuild``: ``rebuild`` / ``recount`` / ``snapshot`` / ``check`` (``flask reports rebuild|check``).
* ``providers``: the registry of other domains' dashboard figures.
"""
from .counters import local_day, month_of, record_transition, regroup_subtree, sync_activity
from .providers import Figure, FigureProvider, extra_figures, register_figures
from .rebuild import check, rebuild, recount, snapshot
from .settle import Freshness, freshness, settle_reach

__all__ = ["Figure", "FigureProvider", "Freshness", "freshness", "check", "extra_figures", "local_day", "month_of", "rebuild", "recount",
           "record_transition", "regroup_subtree", "register_figures", "settle_reach", "snapshot", "sync_activity"]
