"""Turning a queryset into one page of a list action's result."""

from collections.abc import Callable

from centeros.actions.registry import Page


def paginate(queryset, params: dict, serialize: Callable) -> Page:
    """Return the page of ``queryset`` that ``limit`` and ``offset`` select.

    ``queryset`` should already carry the select_related and prefetch_related
    calls that ``serialize`` needs, so a page costs a fixed number of queries.
    """
    limit = params.get("limit", 50)
    offset = params.get("offset", 0)
    total = queryset.count()
    items = [serialize(item) for item in queryset[offset : offset + limit]]
    return Page(items=items, total=total, limit=limit, offset=offset)
