"""Read-only figures for the officer reports, all aggregated in SQL over the summary tables.

* ``filters``: the report filter (union, range, kinds) from the query string, the officer's scope.
* ``dashboard``: the dashboard's figures (``report_daily``), top activities, other domains' figures.
* ``reach``: exact unique workers (``report_reach_span``; ``report_reach`` for a kind set's ragged days).
* ``activity``: one activity's statistics.

Nothing here writes: the span rows are settled in the background (``services.settle``).
"""
from .activity import ANSWER_STATES, ActivityStats, QuestionSummary, activity_stats, summarise_answers
from .dashboard import ChildRow, Dashboard, Figures, MonthRow, TopActivity, dashboard, top_activities
from .filters import (MAX_RANGE_DAYS, TOP_ACTIVITIES, ReportFilter, breadcrumbs, children_of, default_range,
                      parse_filter, quarter_of, scope_tops, subtree_ids, today)
from .reach import Unique, span_kinds, unique_workers

__all__ = ["ANSWER_STATES", "ActivityStats", "ChildRow", "Dashboard", "Figures", "MAX_RANGE_DAYS", "MonthRow",
           "QuestionSummary", "ReportFilter", "TOP_ACTIVITIES", "TopActivity", "Unique", "activity_stats",
           "breadcrumbs", "children_of", "dashboard", "default_range", "parse_filter", "quarter_of", "scope_tops",
           "span_kinds",
           "subtree_ids", "summarise_answers", "today", "top_activities", "unique_workers"]
