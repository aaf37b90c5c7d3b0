"""Tiny services the lab uses to check and measure itself (lesson 00, benchmarks).

They are importable by path ("labsupport.demo:app") so the same app can run inside
the kernel or in a process of its own.
"""

from __future__ import annotations

import asyncio

from fastapi import FastAPI, HTTPException

app = FastAPI(title="shop-demo", description="The smallest piece of the shop: orders by id.")

_ORDERS = {
    1: {"order_id": 1, "sku": "mug-blue", "qty": 2, "status": "placed"},
    2: {"order_id": 2, "sku": "tea-sencha", "qty": 1, "status": "shipped"},
}


@app.get("/health")
def health() -> dict:
    return {"ok": True}


@app.get("/orders/{order_id}")
def get_order(order_id: int) -> dict:
    if order_id not in _ORDERS:
        raise HTTPException(status_code=404, detail=f"no order {order_id}")
    return _ORDERS[order_id]


async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Send back every byte as it arrives, until the client closes."""
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        writer.close()
