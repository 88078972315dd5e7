"""Rate limits of the action layer.

Safety actions (emergency stop) are never throttled: a stop that waits for a
rate window is worse than no limit at all.
"""

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle


class SettingsRateThrottle(SimpleRateThrottle):
    """Reads its rate from settings on each request rather than at import."""

    def get_rate(self):
        rates = settings.REST_FRAMEWORK.get("DEFAULT_THROTTLE_RATES", {})
        return rates.get(self.scope)


class ActionRateThrottle(SettingsRateThrottle):
    """Limits each token (or each client address when anonymous)."""

    scope = "actions"

    def get_cache_key(self, request, view):
        principal = getattr(request, "auth", None)
        token_id = getattr(principal, "token_id", None)
        if token_id:
            ident = f"{principal.token_kind}:{token_id}"
        elif request.user and request.user.is_authenticated:
            ident = f"user:{request.user.pk}"
        else:
            ident = self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}


class LoginRateThrottle(SettingsRateThrottle):
    """Limits login and refresh attempts per client address."""

    scope = "login"

    def get_cache_key(self, request, view):
        return self.cache_format % {
            "scope": self.scope,
            "ident": self.get_ident(request),
        }
