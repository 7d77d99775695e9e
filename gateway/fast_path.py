"""A shortcut for the hot request: `POST /v1/predict` with no query string.

FastAPI would match the path against every route, solve the handler's query
parameters with pydantic and run its exception middleware. With no query none of
that can change the answer, so this ASGI middleware calls the route's handler
directly and answers its `ApiError`s in the same shape. Every other request, and a
predict request with a query, goes through FastAPI as before.
"""

from fastapi import Request
from fastapi.routing import APIRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway import errors, routes
from gateway.middleware import PREDICT_ROUTE


class PredictFastPath:
    """Serve `POST /v1/predict` without a query by `routes.predict`, skipping the router.

    Sits inside `RequestContextMiddleware`, which gives the request its id and logs
    and counts it; `route` is the predict route, named in the scope for those.
    """

    def __init__(self, app: ASGIApp, route: APIRoute) -> None:
        self.app = app
        self.route = route

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not _is_plain_predict(scope):
            await self.app(scope, receive, send)
            return
        scope["route"] = self.route
        request = Request(scope, receive, send)
        try:
            response = await routes.predict(request)
        except errors.ApiError as error:
            response = errors.error_response(error, scope["state"]["request_id"])
        await response(scope, receive, send)


def _is_plain_predict(scope: Scope) -> bool:
    return (
        scope["type"] == "http"
        and scope["method"] == "POST"
        and scope["path"] == PREDICT_ROUTE
        and not scope["query_string"]
        and not scope.get("root_path")
    )
