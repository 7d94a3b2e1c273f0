"""Errors of the work layer as HTTP answers, in one place: the status comes from the error's kind
(thidua.errors.HTTP_STATUS, beside the CLI's exit codes), the message is the CLI's Vietnamese one.

    InvalidInput 422 (every problem with file, sheet, row, column, expected)   NotFound 404
    Conflict / WrongState 409                                                   Unavailable 503
    RuleRefused 422: the request is well formed and the state allows it, a rule of the campaign or the law
        refuses it; 409 stays for "the state is wrong", which another action can change.
    Portal-only refinements of those kinds: not signed in 401, CSRF refused or an API token managing tokens
    403, too many sign-in links 429, a body over the limit 413, a file of the wrong type 415.

Routes under /api/ answer JSON ({"kind", "title", "message", "hint", "problems"}); every other route an HTML
page. Request validation (a missing form field, a path parameter of the wrong type) is InvalidInput in
Vietnamese, never the framework's English.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from thidua.errors import (
    KIND_LABELS,
    InvalidInput,
    NotFound,
    Problem,
    RuleRefused,
    ThiduaError,
    http_status,
    kind_of,
)
from thidua.tasks.collect.reports import MAX_REPORT_BYTES
from thidua.tasks.portal.identity import RateLimited, TokensByPeopleOnly


class NotSignedIn(RuleRefused):
    """No valid session or token: a page sends the browser to sign in, the API answers 401."""

    def __init__(self) -> None:
        super().__init__("Bạn chưa đăng nhập, hoặc phiên làm việc đã hết hạn.", hint="Hãy đăng nhập lại.")


class CsrfRefused(RuleRefused):
    """A state-changing request without the right CSRF token (403): nothing was changed."""

    def __init__(self) -> None:
        super().__init__(
            "Yêu cầu không có mã xác nhận của phiên làm việc nên không được thực hiện; không có gì thay đổi.",
            hint="Tải lại trang rồi thực hiện lại.",
        )


class AdminOnly(RuleRefused):
    """A page or API of the administrators' desk asked by someone who is not an administrator (403)."""

    def __init__(self) -> None:
        super().__init__(
            "Chỉ quản trị viên của hệ thống mới mở được trang này.",
            hint="Nếu bạn cần quyền quản trị, hãy liên hệ bộ phận thi đua – khen thưởng.",
        )


class TooLarge(InvalidInput):
    """A request body over the limit (413): refused before it is read, nothing stored."""

    def __init__(self) -> None:
        super().__init__(
            f"Tệp gửi lên quá lớn (tối đa {MAX_REPORT_BYTES // (1024 * 1024)} MB); không có gì được lưu.",
            hint="Mẫu báo cáo chỉ vài chục KB: hãy gửi đúng tệp mẫu đã điền.",
        )


class Overflow(TooLarge):
    """Raised inside the application when a streamed body passes the limit (answered 413 like TooLarge)."""


class WrongFileType(InvalidInput):
    """An upload that is not a report file by name and content (415): refused unread, nothing stored."""


#: Portal refinements of a kind's status; the most specific class in an error's ancestry wins.
_OVERRIDES: dict[type[ThiduaError], int] = {
    NotSignedIn: 401,
    CsrfRefused: 403,
    AdminOnly: 403,
    RateLimited: 429,
    TokensByPeopleOnly: 403,
    TooLarge: 413,
    WrongFileType: 415,
}


def status_of(exc: ThiduaError) -> int:
    for cls in type(exc).__mro__:
        if cls in _OVERRIDES:
            return _OVERRIDES[cls]
    return http_status(exc)


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def _problems(exc: ThiduaError) -> list[dict[str, Any]]:
    if not isinstance(exc, InvalidInput):
        return []
    return [
        {
            "file": p.file,
            "sheet": p.sheet,
            "row": p.row,
            "column": p.column,
            "problem": p.problem,
            "expected": p.expected,
            "text": str(p),
        }
        for p in exc.located()
    ]


def error_body(exc: ThiduaError) -> dict[str, Any]:
    kind = kind_of(exc)
    return {
        "kind": kind.__name__,
        "title": KIND_LABELS[kind],
        "message": exc.message,
        "hint": exc.hint,
        "problems": _problems(exc),
    }


def error_response(request: Request, exc: ThiduaError, status: int | None = None) -> Response:
    code = status or status_of(exc)
    headers = {"WWW-Authenticate": "Bearer"} if code == 401 else None
    if _wants_json(request):
        return JSONResponse(error_body(exc), status_code=code, headers=headers)
    if code == 401:
        return RedirectResponse("/dang-nhap", status_code=303)
    portal = request.app.state.portal
    return portal.templates.TemplateResponse(
        request, "error.html", {"error": error_body(exc), "status": code, "caller": None}, status_code=code
    )


def _validation(request: Request, exc: RequestValidationError) -> Response:
    problems = []
    for err in exc.errors():
        where = [str(part) for part in err.get("loc", ()) if part not in ("body", "query", "path", "form")]
        problems.append(Problem("thiếu hoặc sai giá trị", column=".".join(where) or None))
    invalid = InvalidInput("Yêu cầu thiếu thông tin hoặc có giá trị không hợp lệ.", problems)
    return error_response(request, invalid, 422)


_HTTP_MESSAGES = {
    404: "Không có trang này.",
    405: "Trang này không nhận cách gửi yêu cầu đó.",
}


def _http(request: Request, exc: StarletteHTTPException) -> Response:
    if isinstance(exc.__cause__, Overflow):
        return error_response(request, TooLarge(), 413)
    if exc.status_code == 404:
        return error_response(request, NotFound(_HTTP_MESSAGES[404]), 404)
    message = _HTTP_MESSAGES.get(exc.status_code, "Yêu cầu không thực hiện được.")
    return error_response(request, ThiduaError(message), exc.status_code)


def install(app: FastAPI) -> None:
    async def on_thidua(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ThiduaError)
        return error_response(request, exc)

    async def on_validation(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        return _validation(request, exc)

    async def on_http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        return _http(request, exc)

    app.add_exception_handler(ThiduaError, on_thidua)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)


__all__ = [
    "AdminOnly",
    "CsrfRefused",
    "NotSignedIn",
    "TooLarge",
    "WrongFileType",
    "error_body",
    "error_response",
    "install",
    "status_of",
]
