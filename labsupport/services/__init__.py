"""Start services inside the kernel (or beside it); each returns a `Running` handle."""

from __future__ import annotations

from .grpc_service import serve_grpc
from .rest import serve_app
from .tcp import serve_tcp

__all__ = ["serve_app", "serve_grpc", "serve_tcp"]
