"""Template tags of the CenterOS admin: the operator dashboard."""

from django import template

from centeros.admin_dashboard import dashboard_panels

register = template.Library()


@register.inclusion_tag("admin/centeros/dashboard.html", takes_context=True)
def operator_dashboard(context):
    """Render the dashboard panels of the user in ``context["request"]``."""
    request = context["request"]
    return {**dashboard_panels(request), "request": request}
