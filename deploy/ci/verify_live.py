"""After a release: every answer through the gateway comes from the live version.

Run by `make verify` (the Jenkinsfile's last stage). The gateway spreads calls over every
model server replica, so a run of answers that all name one version shows that every
replica has converged on it (each sync brings its own server there by itself). Exit 0
when they do within --timeout, else 1 with what was seen.
"""

import argparse
import json
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from typing import Any

from covertype.schema import EXAMPLE_OBSERVATION


class NotLive(Exception):
    """The gateway did not (yet) answer every request with the expected version."""


def _call(url: str, body: dict[str, Any] | None = None, timeout: float = 5.0) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.load(response)
    except urllib.error.HTTPError as error:
        raise NotLive(f"{url}: HTTP {error.code}: {error.read()[:300]!r}") from None
    except (urllib.error.URLError, OSError) as error:
        raise NotLive(f"{url}: {error}") from None


def live_version(gateway: str) -> int:
    """The newest version the model server reports AVAILABLE through the gateway."""
    models = _call(f"{gateway}/v1/models")
    available = [v["version"] for v in models["versions"] if v["state"] == "AVAILABLE"]
    if not available:
        raise NotLive(f"{gateway}/v1/models: no AVAILABLE version ({models['versions']})")
    return max(available)


def check_once(gateway: str, expected: int | None, requests: int) -> tuple[int, Counter[int]]:
    """Send `requests` predictions; return the expected version and the versions that answered."""
    version = expected if expected is not None else live_version(gateway)
    answered: Counter[int] = Counter()
    for _ in range(requests):
        body = _call(f"{gateway}/v1/predict", EXAMPLE_OBSERVATION)
        if body["predictions"][0]["cover_type"] not in range(1, 8):
            raise NotLive(f"no cover type 1..7 in {body}")
        answered[body["model_version"]] += 1
    if set(answered) != {version}:
        raise NotLive(f"expected every answer from version {version}, got {dict(answered)}")
    return version, answered


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gateway", default="http://127.0.0.1:8000", help="default: %(default)s")
    parser.add_argument("--version", type=int, help="expected version (default: newest AVAILABLE)")
    parser.add_argument("--requests", type=int, default=20, help="default: %(default)s")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds; default: %(default)s")
    args = parser.parse_args(argv)
    gateway = args.gateway.rstrip("/")
    deadline = time.monotonic() + args.timeout
    while True:
        try:
            version, answered = check_once(gateway, args.version, args.requests)
        except NotLive as error:
            if time.monotonic() >= deadline:
                print(f"verify: not live after {args.timeout:g} s: {error}", file=sys.stderr)
                return 1
            time.sleep(1)
            continue
        total = sum(answered.values())
        print(f"verify: {total} answers through {gateway}, all from version {version}")
        return 0


if __name__ == "__main__":
    sys.exit(main())
