"""Serving the sandbox over a real socket: in a background thread (tests, `--sandbox`) or in the foreground.

uvicorn binds the port itself from host and port (a pre-bound socket cost ~43 ms per loopback
request: Nagle's algorithm meets delayed ACKs; docs/ARCHITECTURE.md, "Known traps"); port 0 asks the OS
for a free one, read back once the server has started.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from collections.abc import Callable
from types import TracebackType

import uvicorn

from iterbridge.sandbox.app import SandboxState, create_app
from iterbridge.sandbox.config import SandboxConfig, check_port
from iterbridge.sandbox.streams import DropConnection
from iterbridge.sandbox.world.exports import warm_up

STARTUP_TIMEOUT_S = 30.0


class _QuietDrops(logging.Filter):
    """A dropped export stream is a fault we injected, not a server error worth a traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], DropConnection))


class _Server(uvicorn.Server):
    """uvicorn's server, telling `on_ready` its base URL once it listens (with port 0: the port the OS chose)."""

    on_ready: Callable[[str], None] | None = None

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started and self.on_ready is not None:
            bound = next(sock for server in self.servers for sock in server.sockets)
            self.on_ready(f"http://{self.config.host}:{bound.getsockname()[1]}")


def _server(config: SandboxConfig, host: str, port: int, log_level: str) -> tuple[_Server, SandboxState]:
    check_port(port)
    app = create_app(config)
    logging.getLogger("uvicorn.error").addFilter(_QuietDrops())
    settings = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        access_log=False,
        lifespan="off",
        http="httptools",
        loop="auto",  # uvloop where installed (every platform but Windows, see pyproject), asyncio otherwise
        timeout_keep_alive=30,
        date_header=False,  # the app sends the Date of the sandbox's own clock
    )
    return _Server(settings), app.state.sandbox


class Sandbox:
    """A sandbox served from a background thread; use as a context manager.

    with Sandbox(SandboxConfig(scale="tiny")) as sandbox:
        httpx2.get(f"{sandbox.url}/api/lists", headers={"Api-Key": sandbox.api_key})
    """

    def __init__(self, config: SandboxConfig | None = None, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.config = config or SandboxConfig()
        self.host = host
        self._requested_port = port
        self.port = port
        self._server, self.state = _server(self.config, host, port, "warning")
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def api_key(self) -> str:
        return self.config.api_key

    def start(self) -> Sandbox:
        self._thread = threading.Thread(target=self._server.run, name="iterbridge-sandbox", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError(f"the sandbox could not start on {self.host}:{self._requested_port}")
            if time.monotonic() > deadline:
                raise RuntimeError("the sandbox did not start within 30 s")
            time.sleep(0.005)
        sockets = [sock for server in self._server.servers for sock in server.sockets]
        self.port = sockets[0].getsockname()[1]
        return self

    def stop(self) -> None:
        if self._thread is None:
            return
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._thread = None
        with contextlib.suppress(Exception):
            self.state.world.close()

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()


def serve_forever(config: SandboxConfig, host: str, port: int, on_ready: Callable[[str], None] | None = None) -> None:
    """Serve in the foreground until interrupted (the `iterbridge sandbox` command); `on_ready` gets the base
    URL once the server listens."""
    server, state = _server(config, host, port, "warning")
    server.on_ready = on_ready
    warm_up(state.world)
    try:
        server.run()
    finally:
        with contextlib.suppress(Exception):
            state.world.close()
