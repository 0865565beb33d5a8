"""Every error the API returns has one JSON shape (:class:`~lmsa.server.schemas.ErrorBody`).

Client mistakes are 4xx (malformed JSON 400, wrong types / empty messages 422, unknown thread
404, busy thread 409, oversize body 413, rate limit 429); a dependency that is down is 503 with
the same one-sentence explanation the CLI prints; only a bug in lmsa is a 500.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from lmsa.config import Settings
from lmsa.server.schemas import ErrorBody
from lmsa.turns import describe_failure

log = logging.getLogger("lmsa.server")
_DOCS_LINK = re.compile(r"\s*For further information visit https?://errors\.pydantic\.dev\S*")
"""pydantic's pointer to its own docs: about pydantic's internals, not about this API."""
_USERINFO = re.compile(r"(?<=://)[^\s/@]*@")


def strip_userinfo(text: str) -> str:
    """``text`` with the ``user:password@`` part of every URL in it removed: the endpoint and
    Redis URLs the server names in errors and readiness may carry credentials."""
    return _USERINFO.sub("", text)


class UserinfoFilter(logging.Filter):
    """Strips URL credentials from every string a log record carries (its message, arguments
    and ``extra`` fields), whichever module logged it: turn and access logs quote the failing
    endpoint's URL."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                strip_userinfo(arg) if isinstance(arg, str) else arg for arg in record.args
            )
        for name, value in list(vars(record).items()):
            if isinstance(value, str) and "@" in value:
                setattr(record, name, strip_userinfo(value))
        return True


def install_userinfo_filter() -> None:
    """On the root logger's handlers, so records of every logger that propagates pass it."""
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, UserinfoFilter) for f in handler.filters):
            handler.addFilter(UserinfoFilter())


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.code = code
        self.param = param
        self.headers = headers


def error_payload(
    message: str, *, type: str = "invalid_request_error", code: str | None = None, param=None
) -> dict[str, Any]:
    shown = strip_userinfo(message)
    return {"error": {"message": shown, "type": type, "code": code, "param": param}}


def error_response(error: ApiError) -> JSONResponse:
    return JSONResponse(
        error_payload(error.message, type=error.type, code=error.code, param=error.param),
        status_code=error.status,
        headers=error.headers,
    )


def not_found_thread(thread_id: str) -> ApiError:
    return ApiError(404, f"No thread {thread_id!r}.", code="thread_not_found", param="thread_id")


def classify(error: BaseException, settings: Settings) -> ApiError:
    """The API error for an exception raised during a turn."""
    if isinstance(error, ApiError):
        return error
    from langgraph.errors import is_invalid_resume

    if is_invalid_resume(error):
        return ApiError(
            422,
            "The answer does not fit what the thread asked for: " + _pydantic_text(error),
            code="invalid_resume",
        )
    message = describe_failure(error, settings, remote=True)
    if message is not None:
        return ApiError(503, message, type="service_unavailable", code="upstream_unavailable")
    log.exception("unexpected error", exc_info=error)
    return ApiError(500, "Internal error; see the server log.", type="server_error")


def _clean(message: str) -> str:
    return _DOCS_LINK.sub("", message).removeprefix("Value error, ")


def _pydantic_text(error: BaseException) -> str:
    """A pydantic ``ValidationError`` as ``where: what`` parts, without pydantic's docs links."""
    errors = getattr(error, "errors", None)
    if not callable(errors):
        return _clean(str(error))
    return "; ".join(
        f"{'.'.join(str(p) for p in e.get('loc', ())) or 'value'}: {_clean(str(e.get('msg')))}"
        for e in errors(include_url=False)[:5]
    )


def _validation_message(exc: RequestValidationError) -> tuple[int, str, str | None]:
    errors = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        return 400, "The request body is not valid JSON.", None
    parts = []
    param = None
    for e in errors[:5]:
        loc = [str(p) for p in e.get("loc", ()) if p not in ("body",)]
        where = ".".join(loc) or "body"
        param = param or where
        parts.append(f"{where}: {_clean(str(e.get('msg')))}")
    return 422, "Invalid request: " + "; ".join(parts), param


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        # A caller without a valid key gets its 401 before any word about its body
        # (create_app leaves access.authenticate_first here when keys are set).
        gate = getattr(request.app.state, "authenticate_first", None)
        refused = await gate(request) if gate is not None else None
        if refused is not None:
            return error_response(refused)
        status, message, param = _validation_message(exc)
        return JSONResponse(
            error_payload(message, code="invalid_request", param=param), status_code=status
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code)
        return JSONResponse(
            error_payload(str(exc.detail), code=code),
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception) -> JSONResponse:
        settings: Settings = request.app.state.settings
        return error_response(classify(exc, settings))


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "Malformed JSON."},
    401: {"model": ErrorBody, "description": "Missing or wrong API key."},
    413: {"model": ErrorBody, "description": "Body larger than LMSA_MAX_BODY_BYTES."},
    422: {"model": ErrorBody, "description": "Wrong types or empty content."},
    429: {"model": ErrorBody, "description": "Rate limit exceeded; see Retry-After."},
    503: {"model": ErrorBody, "description": "LLM endpoint or conversation store unavailable."},
}
THREAD_RESPONSES: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorBody, "description": "Unknown thread."},
    409: {"model": ErrorBody, "description": "The thread is busy or waits for another call."},
}
