"""GET /demo/orders/{number}: the demo's stand-in for a shop's order system, so the support flow's
"Order status" (an http step) has something to ask. Mounted by `hub demo` only.

Deterministic by number: numbers ending in 0 are unknown (404), the others cycle through
processing, shipped and delivered.
"""

from __future__ import annotations

from datetime import date, timedelta

from fastapi import APIRouter

from hub.errors import ApiError

router = APIRouter(prefix="/demo", include_in_schema=False)

_STATUSES = (("processing", "en preparación"), ("shipped", "enviado"), ("delivered", "entregado"))


@router.get("/orders/{number}")
async def order(number: str) -> dict[str, str]:
    if not number.isdigit() or int(number) % 10 == 0:
        raise ApiError(404, "order_not_found", f"there is no order {number}")
    status, status_es = _STATUSES[int(number) % len(_STATUSES)]
    eta = "" if status == "delivered" else (date.today() + timedelta(days=int(number) % 4 + 1)).isoformat()
    return {"number": number, "status": status, "status_es": status_es, "eta": eta}
