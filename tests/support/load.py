"""A bounded load loop against the gateway, recording every answer with its time.

    with LoopingClients(gateway.url, body, clients=4) as load:
        ...                      # faults happen meanwhile
    assert load.failures() == []

Each client is a thread with its own keep-alive connection, sending the same
prediction request back to back until the context exits (or `max_seconds` pass).
"""

import threading
import time
from dataclasses import dataclass
from typing import Self

import httpx

REQUEST_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class Answer:
    """One request's outcome: when it was sent (monotonic), its status (0: no answer)."""

    sent: float
    status: int
    detail: str
    request_id: str = ""


class LoopingClients:
    """Threads posting `body` to `{url}/v1/predict` in a loop, keeping every answer."""

    def __init__(
        self, url: str, body: object, *, clients: int = 4, max_seconds: float = 120.0
    ) -> None:
        self._url = url
        self._body = body
        self._stop = threading.Event()
        self._deadline = time.monotonic() + max_seconds
        self._lock = threading.Lock()
        self.answers: list[Answer] = []
        self._threads = [
            threading.Thread(target=self._loop, name=f"load-{n}", daemon=True)
            for n in range(clients)
        ]

    def _loop(self) -> None:
        with httpx.Client(base_url=self._url, timeout=REQUEST_TIMEOUT_SECONDS) as http:
            while not self._stop.is_set() and time.monotonic() < self._deadline:
                sent = time.monotonic()
                try:
                    response = http.post("/v1/predict", json=self._body)
                    answer = Answer(
                        sent,
                        response.status_code,
                        response.text[:300],
                        response.headers.get("x-request-id", ""),
                    )
                except httpx.HTTPError as error:
                    answer = Answer(sent, 0, f"{type(error).__name__}: {error}")
                with self._lock:
                    self.answers.append(answer)

    def count(self) -> int:
        """Answers so far."""
        with self._lock:
            return len(self.answers)

    def wait_for_answers(self, more: int, timeout: float = 30.0) -> None:
        """Block until `more` further answers have arrived."""
        target = self.count() + more
        deadline = time.monotonic() + timeout
        while self.count() < target:
            if time.monotonic() > deadline:
                raise TimeoutError(f"load: fewer than {more} answers in {timeout:g} s")
            time.sleep(0.05)

    def failures(self, since: float = 0.0) -> list[Answer]:
        """Answers other than 200 for requests sent at or after `since` (monotonic)."""
        with self._lock:
            return [a for a in self.answers if a.status != 200 and a.sent >= since]

    def __enter__(self) -> Self:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(REQUEST_TIMEOUT_SECONDS + 5)
