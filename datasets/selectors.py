"""Read-side queries of datasets, always within one organisation."""

from django.db.models import Q

from datasets.models import Dataset


def dataset_list(
    *,
    org,
    search: str | None = None,
    file_type: str | None = None,
    status: str | None = None,
):
    """Return the datasets of ``org`` matching the filters, newest first.

    ``search`` matches a part of the name or the description, ignoring
    case. The large ``metadata`` column is deferred, so list pages stay
    small; the list serializer does not read it.
    """
    queryset = Dataset.objects.for_org(org).defer("metadata")
    if search:
        queryset = queryset.filter(
            Q(name__icontains=search) | Q(description__icontains=search)
        )
    if file_type:
        queryset = queryset.filter(file_type=file_type)
    if status:
        queryset = queryset.filter(status=status)
    return queryset.order_by("-created_at", "-id")


def dataset_get(*, org, dataset_id: int) -> Dataset:
    """Return one dataset of ``org``; raises NotFound for any other id."""
    return Dataset.objects.get_for_org(org, pk=dataset_id)
