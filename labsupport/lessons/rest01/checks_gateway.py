"""Check lesson 01's third exercise task: a gateway that aggregates three services.

The learner's `fetch_account_page(client, urls, *, timeout_s)` runs against live users,
orders and payments services; the check slows them down, makes one answer 503, one
refuse connections, and one swallow requests without ever answering.
"""

from __future__ import annotations

from typing import Any

import httpx

from labsupport.checks import task

from ._fixtures import Outcome, Service, run_learner_async, services_under_test

USER_ID = 7
PARTS = {"profile": ("users", "/users/{}"), "orders": ("orders", "/users/{}/orders")}
PARTS["payments"] = ("payments", "/users/{}/payments")


def part_urls(shop: dict[str, Service]) -> dict[str, str]:
    """Return the part name -> URL map the learner's gateway fetches, through the proxies."""
    return {part: shop[svc].url + path.format(USER_ID) for part, (svc, path) in PARTS.items()}


def truth(shop: dict[str, Service]) -> dict[str, Any]:
    """Read each part straight from its service, bypassing proxies and faults' counts."""
    with httpx.Client(timeout=2.0) as client:
        return {
            part: client.get(shop[svc].direct_url + path.format(USER_ID)).json()
            for part, (svc, path) in PARTS.items()
        }


def expect_page(outcome: Outcome, situation: str) -> tuple[dict, list]:
    """Fail the case unless the gateway returned {"parts": {...}, "missing": [...]}."""
    if outcome.error is not None:
        raise AssertionError(
            f"raised {outcome.error_name()} {situation}: the page should still show the rest"
        )
    page = outcome.value
    if not isinstance(page, dict) or not isinstance(page.get("parts"), dict):
        raise AssertionError(
            f"returned {type(page).__name__}, not a dict with 'parts' and 'missing'"
        )
    missing = page.get("missing")
    if not isinstance(missing, list | tuple | set):
        raise AssertionError(f"'missing' was a {type(missing).__name__}, not a list of part names")
    return page["parts"], sorted(missing)


def assert_parts(parts: dict, expected: dict, present: list[str]) -> None:
    """Fail unless exactly the `present` parts are there, each as its service answered."""
    got = sorted(parts)
    assert got == sorted(present), f"'parts' held {got or 'nothing'}"
    for name in present:
        assert parts[name] == expected[name], f"the {name!r} part is not what its service answered"


@task(
    "gateway",
    lesson="01",
    title="A gateway with per-call timeouts and partial results",
    timeout_s=8,
)
def check_gateway(case, fetch_account_page):
    """Judge async fetch_account_page(client, urls, *, timeout_s) -> {"parts", "missing"}."""
    with services_under_test("users", "orders", "payments") as shop:
        urls, expected, everything = part_urls(shop), truth(shop), sorted(PARTS)

        def fetch(timeout_s: float = 0.5) -> Outcome:
            return run_learner_async(fetch_account_page, urls, timeout_s=timeout_s)

        def reset() -> None:
            for service in shop.values():
                service.reset()

        with case(
            "returns every part when all services are up",
            hint="Put each service's parsed JSON under its part name in 'parts'.",
        ):
            reset()
            parts, missing = expect_page(fetch(), "with every service up")
            assert missing == [], f"'missing' listed {missing} with every service up"
            assert_parts(parts, expected, everything)

        with case(
            "calls the three services at the same time",
            hint="Start all three requests before awaiting any (asyncio.gather).",
        ):
            reset()
            for service in shop.values():
                service.faults.set(delay_ms=250)
            outcome = fetch(timeout_s=2.0)
            parts, missing = expect_page(outcome, "with slow services")
            assert_parts(parts, expected, everything)
            assert outcome.elapsed_s < 0.5, (
                f"took {outcome.elapsed_s:.2f} s for three services that take 0.25 s each"
            )

        with case(
            "shows the other parts when one service refuses connections",
            hint="A failed call should become a name in 'missing', not an exception for the page.",
        ):
            reset()
            shop["payments"].proxy.set(down=True)
            parts, missing = expect_page(fetch(), "while payments was down")
            assert missing == ["payments"], f"'missing' was {missing} while payments was down"
            assert_parts(parts, expected, ["orders", "profile"])

        with case(
            "counts a 5xx reply as missing, not as data",
            hint="Check each reply's status before using its body.",
        ):
            reset()
            shop["orders"].faults.set(error_rate=1.0)
            parts, missing = expect_page(fetch(), "while orders answered 503")
            assert missing == ["orders"], f"'missing' was {missing} while orders answered 503"
            assert_parts(parts, expected, ["payments", "profile"])

        with case(
            "does not wait longer than timeout_s for a service that never answers",
            hint="Give every call its own timeout (httpx: timeout=...), so one silent service "
            "cannot hold the page.",
        ):
            reset()
            shop["users"].proxy.set(blackhole=True)
            outcome = fetch(timeout_s=0.3)
            parts, missing = expect_page(outcome, "while users never answered")
            assert outcome.elapsed_s < 0.3 + 0.45, (
                f"took {outcome.elapsed_s:.2f} s with timeout_s=0.3 while users never answered"
            )
            assert missing == ["profile"], f"'missing' was {missing} while users never answered"
            assert_parts(parts, expected, ["orders", "payments"])
