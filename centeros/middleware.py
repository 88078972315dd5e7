"""Request id middleware: every request and response carries an id for logs."""

import re
import uuid

from asgiref.sync import iscoroutinefunction, markcoroutinefunction

REQUEST_ID_HEADER = "X-Request-ID"
_VALID_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class RequestIdMiddleware:
    """Take a well-formed X-Request-ID from the client or make a new one.

    It supports both modes, so that under ASGI an async view (the agent's
    command channel) runs on the event loop instead of holding a thread for
    the whole request, which a sync-only middleware in the chain would force.
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def __call__(self, request):
        if iscoroutinefunction(self):
            return self.__acall__(request)
        self._set_request_id(request)
        response = self.get_response(request)
        response[REQUEST_ID_HEADER] = request.request_id
        return response

    async def __acall__(self, request):
        self._set_request_id(request)
        response = await self.get_response(request)
        response[REQUEST_ID_HEADER] = request.request_id
        return response

    @staticmethod
    def _set_request_id(request) -> None:
        incoming = request.headers.get(REQUEST_ID_HEADER, "")
        request.request_id = incoming if _VALID_ID.match(incoming) else uuid.uuid4().hex
