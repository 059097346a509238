"""Serving the console on loopback from a background thread (tests and `iterbridge ui` alike).

Only 127.0.0.1 is ever bound; uvicorn binds from host and port (see the sandbox's server for why a pre-bound
socket is slow), port 0 asks the OS for a free one. The Host values the guard accepts are known once the
port is: 127.0.0.1:PORT and localhost:PORT."""

from __future__ import annotations

import contextlib
import threading
import time
from types import TracebackType

import uvicorn

from iterbridge.errors import ConfigurationError
from iterbridge.ui.app import create_app
from iterbridge.ui.auth import Guard
from iterbridge.ui.console import Console

HOST = "127.0.0.1"
STARTUP_TIMEOUT_S = 30.0


class ConsoleServer:
    """The console served from a thread; `url` carries the token. Use as a context manager."""

    def __init__(self, console: Console, *, port: int = 0, guard: Guard | None = None) -> None:
        self.console = console
        self.guard = guard or Guard()
        self.port = port
        app = create_app(console, self.guard, self.hosts)
        config = uvicorn.Config(
            app, host=HOST, port=port, log_level="warning", access_log=False, lifespan="off", http="httptools"
        )
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    def hosts(self) -> set[str]:
        return {f"{HOST}:{self.port}", f"localhost:{self.port}"}

    @property
    def base(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def url(self) -> str:
        """The URL to open: the token makes the first visit a session (a cookie), then leaves the address."""
        return f"{self.base}/?token={self.guard.token}"

    def start(self) -> ConsoleServer:
        self._thread = threading.Thread(target=self._serve, name="iterbridge-ui", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not self._server.started:
            if not self._thread.is_alive():
                raise ConfigurationError(f"the console could not listen on {HOST}:{self.port} (is the port taken?)")
            if time.monotonic() > deadline:
                raise ConfigurationError("the console did not start within 30 s")
            time.sleep(0.005)
        self.port = next(sock for server in self._server.servers for sock in server.sockets).getsockname()[1]
        return self

    def _serve(self) -> None:
        with contextlib.suppress(SystemExit):  # uvicorn exits when it cannot bind: `start` says so
            self._server.run()

    def wait(self) -> None:
        """Serve until the server stops; Ctrl-C raises KeyboardInterrupt here (the caller stops the server)."""
        while self._thread is not None and self._thread.is_alive():
            self._thread.join(0.5)

    def stop(self) -> None:
        if self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)
            self._thread = None

    def __enter__(self) -> ConsoleServer:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()
