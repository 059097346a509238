"""What the benchmark scripts share: a sandbox in its own process, a client for it, a memory sampler.

Import it first: run as a script, a benchmark has this folder first on the import path, where csv.py would
shadow the standard library's csv module (httpx2 imports it); importing this module takes the folder off.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != HERE]

import contextlib  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import queue  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable, Iterator  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from datetime import datetime  # noqa: E402

import httpx2  # noqa: E402
import psutil  # type: ignore[import-untyped,unused-ignore]  # noqa: E402

import iterbridge  # noqa: E402
from iterbridge.sandbox.config import SandboxConfig  # noqa: E402
from iterbridge.sandbox.data.project import build_project  # noqa: E402
from iterbridge.sandbox.data.users import UserGenerator  # noqa: E402

API_KEY = "sandbox-api-key"
MB = 1024 * 1024
LOCAL_POSTGRES = "postgresql://postgres:postgres@127.0.0.1:5432/postgres"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Server:
    """`iterbridge sandbox` in its own process (so the client and the server do not share one GIL)."""

    process: subprocess.Popen[str]
    url: str
    started_s: float  # from spawning the process to its first answer
    log: str

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_server(
    scale: str, anchor: str | None = "2026-11-01", seed: int = 42, timeout_s: float = 120.0, *extra: str
) -> Server:
    """Start the sandbox (rate limits off) on a free port; return once it answers."""
    port = free_port()
    log = tempfile.NamedTemporaryFile(prefix="iterbridge-bench-", suffix=".log", delete=False)  # noqa: SIM115
    command = [sys.executable, "-m", "iterbridge", "sandbox", "--port", str(port), "--scale", scale]
    command += ["--rate-limits", "off", "--seed", str(seed), *extra]
    if anchor:
        command += ["--anchor", anchor]
    began = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log, text=True)
    lines: queue.Queue[str] = queue.Queue()

    def read_lines() -> None:
        for line in process.stdout or []:
            lines.put(line)
        lines.put("")  # the sandbox ended: no need to wait out the timeout

    threading.Thread(target=read_lines, daemon=True).start()
    url = ""
    deadline = began + timeout_s
    while not url:
        try:
            line = lines.get(timeout=max(0.01, deadline - time.perf_counter()))
        except queue.Empty:
            process.kill()
            raise RuntimeError(
                f"no 'base URL:' line from the sandbox within {timeout_s:.0f} s (log: {log.name})"
            ) from None
        if not line:
            raise RuntimeError(f"the sandbox ended before it started (exit {process.wait()}; log: {log.name})")
        if line.startswith("base URL:"):
            url = line.split(":", 1)[1].strip()
    while True:  # wait for the first answer
        try:
            if httpx2.get(f"{url}/_sandbox/info", timeout=5).status_code == 200:
                break
        except httpx2.TransportError:
            pass
        if process.poll() is not None or time.perf_counter() > deadline:
            process.kill()
            raise RuntimeError(f"the sandbox did not answer (log: {log.name})")
        time.sleep(0.005)
    return Server(process, url, time.perf_counter() - began, log.name)


def client(server: Server, timeout_s: float = 120.0) -> httpx2.Client:
    return httpx2.Client(base_url=server.url, headers={"Api-Key": API_KEY}, timeout=timeout_s)


def connect(server: Server, **options: object) -> iterbridge.Connection:
    """A connection to the benchmark's sandbox (its limits are off)."""
    return iterbridge.connect(api_key=API_KEY, base_url=server.url, rate_limit_factor=None, **options)  # type: ignore[arg-type]


def api_calls(server: Server) -> dict[str, int]:
    """Calls so far per endpoint (GET /_sandbox/stats)."""
    endpoints = httpx2.get(f"{server.url}/_sandbox/stats", timeout=30).json()["endpoints"]
    return {endpoint: sum(statuses.values()) for endpoint, statuses in endpoints.items()}


def sample_emails(scale: str, seed: int, anchor: datetime, count: int) -> Iterator[str]:
    """Emails of generated users spread over the project (computed here, as the sandbox would)."""
    generator = UserGenerator(build_project(SandboxConfig(seed=seed, scale=scale, anchor=anchor)))
    step = max(1, generator.count // count)
    for index in range(step // 2, generator.count, step):
        yield generator.email(index)


class PeakRss:
    """A process's peak RSS while a block runs. This process's is the kernel's own high-water mark (VmHWM, reset
    at the start through /proc/self/clear_refs): exact, and no thread of the benchmark's own wakes every few ms to
    take the GIL from the code being timed. Another process's (or where the mark cannot be reset) is sampled
    every 5 ms."""

    def __init__(self, pid: int | None = None) -> None:
        self.process = psutil.Process(pid)
        self.peak = self.start = 0
        self._marked = pid is None and _reset_high_water_mark()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, self.process.memory_info().rss)

    def __enter__(self) -> PeakRss:
        gc.collect()
        self.start = self.peak = self.process.memory_info().rss
        if self._marked:
            _reset_high_water_mark()  # from here: the mark is the current RSS
        else:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._marked:
            self.peak = max(self.start, _high_water_mark())
            return
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.process.memory_info().rss)

    @property
    def growth_mb(self) -> float:
        return (self.peak - self.start) / MB

    @property
    def peak_mb(self) -> float:
        return self.peak / MB


def _reset_high_water_mark() -> bool:
    """Set this process's VmHWM to its current RSS (Linux: "5" to clear_refs); False where it cannot be."""
    try:
        with open("/proc/self/clear_refs", "w") as control:
            control.write("5")
    except OSError:
        return False
    return _high_water_mark() > 0


def _high_water_mark() -> int:
    """This process's VmHWM in bytes (0 when /proc does not say)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


@dataclass
class Run:
    """One timed run in the benchmark's own process."""

    rows: int
    seconds: float
    cpu_seconds: float  # of this process: what the client itself spent (the sandbox's time is not in it)
    bytes: int = 0
    peak_mb: float = 0.0  # peak RSS of this process during the run
    growth_mb: float = 0.0  # that peak minus the RSS at the start of the run

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds


def timed(block: Callable[[], int]) -> Run:
    """Run `block` (which returns a row count) under the clock, the CPU clock and a memory sampler."""
    with PeakRss() as memory:
        began, cpu = time.perf_counter(), time.process_time()
        rows = block()
        seconds, cpu = time.perf_counter() - began, time.process_time() - cpu
    return Run(rows, seconds, cpu, peak_mb=memory.peak_mb, growth_mb=memory.growth_mb)


@contextlib.contextmanager
def postgres_database(server_url: str, label: str) -> Iterator[str | None]:
    """A database of its own on the PostgreSQL server for the run (dropped after), or None (saying so) when
    no server answers."""
    import psycopg

    try:
        admin = psycopg.connect(server_url, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as error:
        print(f"PostgreSQL: not reachable at {server_url.split('@')[-1]} ({type(error).__name__}); skipped")
        yield None
        return
    name = f"iterbridge_bench_{label}_{os.getpid()}"
    with admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield f"{server_url.rpartition('/')[0]}/{name}"
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# ---- a replication in its own process ------------------------------------------------------------------


@dataclass
class CpuBudget:
    """Where the machine's CPU went during a run: the client, the sandbox (both measured), and the rest of the
    machine (its busy time less those two: on a quiet machine, a database server the client writes to). On a
    machine whose cores the three share, their sum over the cores is the least time the run can take, whatever
    the client does with its threads."""

    seconds: float = 0.0  # the run's wall time
    client_s: float = 0.0
    sandbox_s: float = 0.0
    rest_s: float = 0.0
    cores: int = 1

    @property
    def total_s(self) -> float:
        return self.client_s + self.sandbox_s + self.rest_s

    @property
    def least_s(self) -> float:
        """The run's CPU seconds spread perfectly over the cores."""
        return self.total_s / self.cores

    @property
    def busy(self) -> float:
        """The fraction of the cores' time the run kept busy."""
        return self.total_s / (self.cores * self.seconds) if self.seconds else 0.0


class CpuMeter:
    """Measures a CpuBudget around a block: the machine's busy time (psutil.cpu_times), the sandbox's process
    time, and the client's: this process's, unless the caller sets `budget.client_s` (a child's rusage)."""

    def __init__(self, server: Server) -> None:
        self.server = psutil.Process(server.pid)
        self.budget = CpuBudget(cores=psutil.cpu_count() or 1)

    @staticmethod
    def _busy() -> float:
        times = psutil.cpu_times()
        return float(sum(times) - times.idle - getattr(times, "iowait", 0.0))

    def _sandbox(self) -> float:
        times = self.server.cpu_times()
        return float(times.user + times.system)

    def __enter__(self) -> CpuMeter:
        self._began, self._machine, self._server = time.perf_counter(), self._busy(), self._sandbox()
        self._own = time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        budget = self.budget
        budget.seconds = time.perf_counter() - self._began
        budget.sandbox_s = self._sandbox() - self._server
        if not budget.client_s:
            budget.client_s = time.process_time() - self._own
        budget.rest_s = max(0.0, self._busy() - self._machine - budget.sandbox_s - budget.client_s)


@dataclass
class Replication:
    target: str
    seconds: float = 0.0
    peak_mb: float = 0.0
    rows: int = 0
    exit_code: int = 0
    samples: list[tuple[float, float]] = field(default_factory=list)  # (seconds, RSS MB)
    output: str = ""
    cpu: CpuBudget = field(default_factory=CpuBudget)

    def quarters_mb(self) -> list[float]:
        """The peak RSS within each quarter of the run: flat memory shows no upward trend across them."""
        if not self.samples:
            return []
        end = self.samples[-1][0] or 1.0
        peaks = [0.0, 0.0, 0.0, 0.0]
        for moment, mb in self.samples:
            quarter = min(3, int(4 * moment / end))
            peaks[quarter] = max(peaks[quarter], mb)
        return peaks


def replicate(server: Server, target: str, workers: int, env: dict[str, str] | None = None) -> Replication:
    """`iterbridge replicate --to target --json` in its own process: time, peak RSS (ru_maxrss from wait4), RSS
    every 0.2 s, rows written, its report (`output`); `env` adds to its environment."""
    run = Replication(target)
    environment = {**os.environ, "ITERABLE_API_KEY": API_KEY, "ITERABLE_BASE_URL": server.url, **(env or {})}
    command = [sys.executable, "-m", "iterbridge", "replicate", "--to", target, "--workers", str(workers), "--json"]
    command += ["--rate-limits", "off", "--export-method", "sync"]
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err, CpuMeter(server) as meter:
        began = time.perf_counter()
        process = subprocess.Popen(command, stdout=out, stderr=err, env=environment, text=True)
        watched = psutil.Process(process.pid)
        stop = threading.Event()

        def sample() -> None:
            while not stop.is_set():
                with contextlib.suppress(psutil.Error):
                    run.samples.append((time.perf_counter() - began, watched.memory_info().rss / MB))
                stop.wait(0.2)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        _, status, usage = os.wait4(process.pid, 0)
        run.seconds = time.perf_counter() - began
        stop.set()
        sampler.join()
        process.returncode = os.waitstatus_to_exitcode(status)
        run.exit_code = process.returncode
        run.peak_mb = usage.ru_maxrss / 1024  # KB on Linux
        meter.budget.client_s = usage.ru_utime + usage.ru_stime
        out.seek(0)
        err.seek(0)
        run.output = out.read()
        if run.exit_code:
            print(err.read()[-2000:], file=sys.stderr)
    run.cpu = meter.budget
    with contextlib.suppress(ValueError):
        report = json.loads(run.output)
        run.rows = sum(s["inserted"] + s["updated"] + s["unchanged"] for s in report["streams"])
    return run
