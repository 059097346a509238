"""Loopback latency: a small GET over a keep-alive connection stays in the low milliseconds (a pre-bound socket once
cost ~43 ms per request: Nagle's algorithm meets delayed ACKs).

The benchmark (benchmarks/) targets 2 ms; this test keeps a loose 5 ms median so that a loaded 2-core machine
does not make it flaky, while the ~43 ms of a Nagle / delayed-ACK regression still fails it.
"""

from __future__ import annotations

import statistics
import time

import httpx2


def test_median_latency_of_a_small_get(api: httpx2.Client) -> None:
    for _ in range(20):  # warm up: connection, caches
        assert api.get("/api/channels").status_code == 200
    samples = []
    for _ in range(200):
        started = time.perf_counter()
        response = api.get("/api/channels")
        samples.append(time.perf_counter() - started)
        assert response.status_code == 200
    median_ms = statistics.median(samples) * 1000
    assert median_ms < 5, f"median {median_ms:.2f} ms over {len(samples)} requests"


def _local_address(response: httpx2.Response) -> tuple[str, int]:
    address: tuple[str, int] = response.extensions["network_stream"].get_extra_info("client_addr")
    return address


def test_the_connection_is_kept_alive(api: httpx2.Client) -> None:
    """The latency above is that of a reused connection: the server keeps it open between requests."""
    first = api.get("/api/channels")
    addresses = {_local_address(api.get("/api/channels")) for _ in range(10)}
    assert addresses == {_local_address(first)}
    assert api.get("/api/export/data.json", params={"dataTypeName": "emailSend", "range": "All"}).status_code == 200
    assert _local_address(api.get("/api/channels")) == _local_address(first)  # streamed bodies too
