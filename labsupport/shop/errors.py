"""Error replies the shop's FastAPI apps share."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

__all__ = ["answer_bad_bytes_with_422"]


def answer_bad_bytes_with_422(app: FastAPI) -> FastAPI:
    """Make 422 replies survive request bodies that are not UTF-8.

    FastAPI's own handler echoes the body back in its error list and crashes (500) when
    those bytes are not text: the lesson's property test found it. This handler writes
    undecodable bytes with replacement characters instead.
    """

    async def unprocessable(request: Request, exc: RequestValidationError) -> JSONResponse:
        readable = {bytes: lambda raw: raw.decode("utf-8", "replace")}
        detail = jsonable_encoder(exc.errors(), custom_encoder=readable)
        return JSONResponse(status_code=422, content={"detail": detail})

    app.add_exception_handler(RequestValidationError, unprocessable)
    return app
