"""The shop's domain as data: what clients send, and the ids every service shares."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path
from pydantic import BaseModel, Field

__all__ = ["KNOWN_USERS", "OrderId", "OrderIn", "PriceIn", "SKU_PATTERN", "UserId"]

SKU_PATTERN = r"^[a-z0-9][a-z0-9-]{0,39}$"
OrderId = Annotated[int, Path(ge=1, le=2**31 - 1)]
UserId = Annotated[int, Path(ge=1, le=2**31 - 1)]
KNOWN_USERS = range(1, 51)


class OrderIn(BaseModel):
    """Hold what a client sends to place an order."""

    sku: str = Field(pattern=SKU_PATTERN, examples=["mug-blue"])
    qty: int = Field(gt=0, le=100)
    user_id: int = Field(default=7, ge=1, le=2**31 - 1)


class PriceIn(BaseModel):
    """Hold a new price for one product."""

    price_cents: int = Field(ge=0, le=10_000_000)
