"""The union hierarchy (city → district → street/industry → workplace) that scopes roles."""
from __future__ import annotations


def init_app(app) -> None:
    """Start-up: the union tree is the tree ``core.permissions`` scopes roles by."""
    from ..core.permissions import register_scope_tree
    from .models import UnionNode

    register_scope_tree(UnionNode)

    from .picker import picker_view

    app.add_template_global(picker_view, "union_picker_view")
