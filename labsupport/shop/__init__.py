"""The lab's shop, written once: its domain models and its services, for every lesson.

Each factory returns a fresh app with fresh data, so a re-run cell or a new check
starts clean:

    from labsupport.shop import make_orders_app
    orders = serve_app(make_orders_app(), name="orders")

- `models`: `OrderIn`, `PriceIn` and the shared id types;
- `orders`, `catalog`: the FastAPI apps (orders; inventory, users, payments);
- `errors`: `answer_bad_bytes_with_422`, the 422 handler every app with a body needs;
- `contract`: `shop.proto` (gRPC inventory and orders) and `load_shop()`, its generated modules.
"""

from __future__ import annotations

from .catalog import make_inventory_app, make_payments_app, make_users_app, matches
from .contract import SHOP_PROTO, SHOP_SERVICES, compile_proto, load_shop
from .errors import answer_bad_bytes_with_422
from .models import KNOWN_USERS, SKU_PATTERN, OrderId, OrderIn, PriceIn, UserId
from .orders import make_orders_app

__all__ = [
    "KNOWN_USERS",
    "OrderId",
    "OrderIn",
    "PriceIn",
    "SHOP_PROTO",
    "SHOP_SERVICES",
    "SKU_PATTERN",
    "UserId",
    "answer_bad_bytes_with_422",
    "compile_proto",
    "load_shop",
    "make_inventory_app",
    "make_orders_app",
    "make_payments_app",
    "make_users_app",
    "matches",
]
