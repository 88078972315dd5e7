"""The one visibility gate for data owned by an organisation.

Every model with an ``org`` foreign key uses :class:`OrgScopedQuerySet` as its
manager, and handlers reach objects only through :meth:`for_org` or
:meth:`get_for_org`. An object of another organisation is reported exactly
like one that does not exist, so ids cannot be probed across organisations.
"""

from django.db import models

from centeros.errors import NotFound


class OrgScopedQuerySet(models.QuerySet):
    def for_org(self, org) -> "OrgScopedQuerySet":
        """Return the objects that belong to ``org``."""
        return self.filter(org=org)

    def get_for_org(self, org, *, label: str | None = None, **lookup):
        """Return the one object of ``org`` matching ``lookup``.

        Raises NotFound, naming the lookup, when there is none in ``org``.
        """
        try:
            return self.for_org(org).get(**lookup)
        except self.model.DoesNotExist:
            name = label or self.model._meta.verbose_name
            shown = ", ".join(f"{key}={value!r}" for key, value in lookup.items())
            raise NotFound(
                f"No {name} with {shown} exists in this organisation.",
                code=f"{self.model._meta.model_name}_not_found",
            )


OrgScopedManager = models.Manager.from_queryset(OrgScopedQuerySet)
