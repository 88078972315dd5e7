"""Discovery and dispatch endpoints of the action layer."""

import logging
import time
from contextlib import nullcontext

from django.db import transaction
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from centeros.actions.context import ActionContext, Principal
from centeros.actions.handlers import (
    api_exception_handler,
    describe_validation,
    error_response,
    validation_errors,
)
from centeros.actions.registry import Action, Page, Risk, registry
from centeros.actions.schema import serializer_schema
from centeros.actions.throttles import ActionRateThrottle
from centeros.audit import audit_record
from centeros.errors import DomainError
from centeros.scopes import AUTHENTICATED

logger = logging.getLogger(__name__)


def describe_action(declared: Action) -> dict:
    return {
        "name": declared.name,
        "category": declared.category,
        "description": declared.description,
        "scopes": list(declared.scopes),
        "risk": str(declared.risk),
        "input_schema": serializer_schema(declared.params),
    }


def _principal(request: Request) -> Principal | None:
    auth = request.auth
    return auth if isinstance(auth, Principal) else None


def _client_ip(request) -> str | None:
    return request.META.get("REMOTE_ADDR") or None


class ActionListView(APIView):
    """``GET /api/actions``: every action, or those the caller's scopes allow."""

    permission_classes = []
    throttle_classes = []

    @extend_schema(exclude=True)
    def get(self, request: Request) -> Response:
        category = request.query_params.get("category")
        if category is not None and category not in registry.categories():
            known = ", ".join(registry.categories())
            return error_response(
                400,
                f"Unknown category {category!r}. Categories are: {known}.",
                code="invalid",
            )

        principal = _principal(request)
        actions = registry.allowed(principal.scopes) if principal else registry.all()
        if category:
            actions = [a for a in actions if a.category == category]
        return Response(
            {
                "ok": True,
                "data": [describe_action(a) for a in actions],
                "meta": {"total": len(actions), "categories": registry.categories()},
            }
        )


class ActionDispatchView(APIView):
    """``POST /api/actions/{name}``: authenticate, check scopes, validate, run.

    ``GET`` on the same path describes the one action.
    """

    permission_classes = []

    def get_throttles(self):
        declared = registry.get(self.kwargs.get("name", ""))
        if declared is not None and declared.risk == Risk.SAFETY:
            return []
        return [ActionRateThrottle()]

    def initial(self, request, *args, **kwargs):
        self._started = time.monotonic()
        self._params = None
        super().initial(request, *args, **kwargs)

    @extend_schema(exclude=True)
    def get(self, request: Request, name: str) -> Response:
        declared = registry.get(name)
        if declared is None:
            return self._unknown_action(name)
        return Response({"ok": True, "data": describe_action(declared)})

    @extend_schema(exclude=True)
    def post(self, request: Request, name: str) -> Response:
        # Step 1: the action must exist; unknown names are 404.
        declared = registry.get(name)
        if declared is None:
            return self._unknown_action(name)

        # Step 2: a caller must be authenticated; discovery is the only
        # public part of the action layer.
        principal = _principal(request)
        if principal is None:
            raise exceptions.NotAuthenticated(
                "Authentication credentials were not provided. Send "
                "'Authorization: Bearer <token>' with a PAT or an access token."
            )

        # Step 3: every scope the action declares must be granted.
        missing = [
            s
            for s in declared.scopes
            if s != AUTHENTICATED and s not in principal.scopes
        ]
        if missing:
            return error_response(
                403,
                f"The action {name} needs the scope(s) {', '.join(missing)}, "
                "which this token does not grant in this organisation.",
                code="permission_denied",
            )

        # Step 4: the body is {"params": {...}} and the params must validate.
        raw_params = self._raw_params(request.data)
        self._params = raw_params
        serializer = declared.params(data=raw_params)
        if not serializer.is_valid():
            errors = validation_errors(serializer.errors)
            return error_response(
                400, describe_validation(errors), code="invalid", errors=errors
            )

        # Step 5: run the handler in a transaction. A DomainError with
        # keep_changes set is returned only after its changes are committed.
        context = ActionContext(
            principal=principal,
            request_id=getattr(request, "request_id", ""),
            client_ip=_client_ip(request),
        )
        kept_error = None
        with transaction.atomic() if declared.atomic else nullcontext():
            try:
                result = declared.run(context, serializer.validated_data)
            except DomainError as error:
                if not error.keep_changes:
                    raise
                kept_error = error
        if kept_error is not None:
            raise kept_error

        if isinstance(result, Page):
            return Response(
                {
                    "ok": True,
                    "data": result.items,
                    "meta": {
                        "total": result.total,
                        "limit": result.limit,
                        "offset": result.offset,
                    },
                }
            )
        return Response({"ok": True, "data": result})

    def _raw_params(self, body) -> dict:
        if not isinstance(body, dict):
            raise exceptions.ValidationError(
                {"params": ['The body must be a JSON object: {"params": {...}}.']}
            )
        extra = sorted(set(body) - {"params"})
        if extra:
            raise exceptions.ValidationError(
                {
                    name: ['Unknown field. The body is {"params": {...}}.']
                    for name in extra
                }
            )
        params = body.get("params", {})
        if params is None:
            params = {}
        if not isinstance(params, dict):
            raise exceptions.ValidationError(
                {"params": ["params must be a JSON object of named values."]}
            )
        return params

    def _unknown_action(self, name: str) -> Response:
        return error_response(
            404,
            f"Unknown action {name[:100]!r}. GET /api/actions lists the actions.",
            code="unknown_action",
        )

    def handle_exception(self, exc):
        return api_exception_handler(exc, self.get_exception_handler_context())

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        if request.method == "POST":
            self._audit(request, response)
        return response

    def _audit(self, request, response) -> None:
        started = getattr(self, "_started", None)
        duration_ms = int((time.monotonic() - started) * 1000) if started else 0
        principal = _principal(request) if hasattr(request, "_auth") else None
        detail = ""
        if isinstance(response.data, dict) and not response.data.get("ok", True):
            detail = str(response.data.get("detail", ""))
        audit_record(
            action=self.kwargs.get("name", ""),
            status_code=response.status_code,
            params=self._params if getattr(self, "_params", None) is not None else {},
            org=principal.org if principal else None,
            user=principal.user if principal else None,
            token_kind=principal.token_kind if principal else "",
            token_id=principal.token_id if principal else "",
            detail=detail,
            duration_ms=duration_ms,
            client_ip=_client_ip(request),
            request_id=getattr(request, "request_id", ""),
        )
