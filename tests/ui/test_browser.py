"""The console in a real browser: the distribution's headless Chromium driven by Selenium, against a console
served on loopback over a small sandbox of its own. One browser for the module.

Selenium is pointed at /usr/bin/chromium and /usr/bin/chromedriver (SE_OFFLINE: Selenium Manager never
downloads anything). Each page is photographed into $ITERBRIDGE_SCREENSHOTS (default: a temporary directory
named in the test's output) for a reviewer to look at."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import iterbridge
from helpers import connect_to, make_config
from iterbridge.sandbox import Sandbox
from iterbridge.ui import Console, ConsoleServer

from .support import BAD_ROWS_CSV

CHROMIUM = os.environ.get("ITERBRIDGE_TEST_CHROMIUM") or "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
WAIT_S = 30


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[ConsoleServer, iterbridge.Connection]]:
    """The console over a sandbox of its own, and a second connection to that sandbox to check against."""
    with Sandbox(make_config()) as sandbox, connect_to(sandbox) as checker:
        console = Console(connect_to(sandbox), sandbox=True)
        try:
            with ConsoleServer(console) as server:
                yield server, checker
        finally:
            console.close()


@pytest.fixture(scope="module")
def driver() -> Iterator[Any]:
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        if os.environ.get("ITERBRIDGE_TEST_CHROMIUM"):
            pytest.fail(f"ITERBRIDGE_TEST_CHROMIUM is set but {CHROMIUM} or {CHROMEDRIVER} is missing")
        pytest.skip("browser tests skipped: apt-get install chromium chromium-driver (CI does, see .ci/run)")
    os.environ["SE_OFFLINE"] = "true"  # Selenium Manager: never download a browser or a driver
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1400,1000", "--no-first-run", "--disable-extensions"):  # fmt: skip
        options.add_argument(argument)
    browser = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield browser
    finally:
        browser.quit()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = Path(os.environ.get("ITERBRIDGE_SCREENSHOTS") or tmp_path_factory.mktemp("screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    print(f"screenshots in {folder}")
    return folder


@pytest.fixture
def page(
    driver: Any, served: tuple[ConsoleServer, iterbridge.Connection], shots: Path, request: pytest.FixtureRequest
) -> Iterator[Callable[[str], Any]]:
    """`page(name)` opens the printed URL (the session), then that page of the console; returns the driver.
    The page is photographed when the test ends (PAGE-TEST.png)."""
    server = served[0]
    opened: list[str] = []

    def open_page(name: str) -> Any:
        driver.get(server.url)
        wait(driver, lambda d: d.current_url == server.base + "/#connection")
        driver.find_element("css selector", f'button[data-page="{name}"]').click()
        opened.append(name)
        return driver

    yield open_page
    for name in opened[-1:]:
        driver.save_screenshot(str(shots / f"{name}-{request.node.name.removeprefix('test_')}.png"))


def wait(driver: Any, condition: Callable[[Any], Any]) -> Any:
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, WAIT_S, poll_frequency=0.05).until(condition)


def text_of(driver: Any, element_id: str) -> str:
    return str(driver.find_element("id", element_id).text)


def grid(driver: Any, element_id: str) -> list[list[str]]:
    table = driver.find_element("id", element_id)
    return [
        [td.text for td in row.find_elements("tag name", "td")]
        for row in table.find_elements("css selector", "tbody tr")
    ]


def run_sql(driver: Any, sql: str, shown: str) -> None:
    """Type SQL, press Run, and wait until the element `shown` is on the page."""
    set_sql(driver, sql)
    driver.find_element("id", "run-button").click()
    wait(driver, lambda d: d.find_elements("id", shown))


def set_sql(driver: Any, sql: str) -> None:
    editor = driver.find_element("id", "sql")
    driver.execute_script(
        "arguments[0].value = arguments[1]; arguments[0].dispatchEvent(new Event('input'))", editor, sql
    )


# ---- the tests -------------------------------------------------------------------------------------------


def test_the_console_refuses_a_browser_without_the_token(
    driver: Any, served: tuple[ConsoleServer, iterbridge.Connection], shots: Path
) -> None:
    server = served[0]
    driver.delete_all_cookies()
    driver.get(server.base + "/")
    assert "no session" in driver.find_element("tag name", "body").text
    driver.get(server.base + "/?token=guessed")
    assert "wrong token" in driver.find_element("tag name", "body").text
    driver.save_screenshot(str(shots / "refused.png"))
    driver.get(server.url)  # the printed URL: the session, and the token gone from the address bar
    wait(driver, lambda d: d.current_url == server.base + "/#connection")
    assert "token" not in driver.current_url


def test_connection_page_checks_the_key(page: Callable[[str], Any]) -> None:
    driver = page("connection")
    driver.find_element("id", "check-button").click()
    wait(driver, lambda d: "key accepted" in text_of(d, "check-result"))
    assert "server-side key" in text_of(driver, "check-result")
    assert "sandbox" in text_of(driver, "connection-info")


def test_objects_page_describes_and_previews(
    page: Callable[[str], Any], served: tuple[ConsoleServer, iterbridge.Connection]
) -> None:
    driver = page("objects")
    wait(driver, lambda d: d.find_elements("css selector", '[data-object="Lists"]'))
    driver.find_element("css selector", '[data-object="Lists"]').click()
    wait(driver, lambda d: d.find_elements("id", "columns"))
    assert [row[0] for row in grid(driver, "columns")][:2] == ["Id", "Name"]
    driver.find_element("id", "preview-button").click()
    wait(driver, lambda d: d.find_elements("id", "preview-grid"))
    expected = [str(r["Name"]) for r in served[1].read("Lists", limit=20)]
    assert [row[1] for row in grid(driver, "preview-grid")] == expected


def test_query_shows_explain_then_the_grid(
    page: Callable[[str], Any], served: tuple[ConsoleServer, iterbridge.Connection]
) -> None:
    driver = page("query")
    run_sql(driver, "SELECT Id, Name FROM Lists ORDER BY Id", "result-grid")
    plan = grid(driver, "explain-grid")
    assert plan[0][:2] == ["Lists", "GET /api/lists"]
    expected = [[str(r["Id"]), r["Name"]] for r in sorted(served[1].read("Lists"), key=lambda r: r["Id"])]
    assert grid(driver, "result-grid") == expected
    assert f"{len(expected)} row(s)" in text_of(driver, "page-info")


def test_query_error_is_shown_at_its_position(page: Callable[[str], Any]) -> None:
    driver = page("query")
    set_sql(driver, "SELECT Id\nFROM Lists WHERE Id = = 3")
    driver.find_element("id", "run-button").click()
    wait(driver, lambda d: "syntax error" in text_of(d, "query-error"))
    assert "line 2, column 23" in text_of(driver, "query-error")
    start = driver.execute_script("return document.getElementById('sql').selectionStart")
    assert start == len("SELECT Id\n") + 22


def test_a_write_shows_its_dry_run_and_is_sent_once_confirmed(
    page: Callable[[str], Any], served: tuple[ConsoleServer, iterbridge.Connection]
) -> None:
    driver = page("query")
    run_sql(driver, "INSERT INTO Lists (Name) VALUES ('Made in the browser')", "dry-run-requests")
    assert "POST" in text_of(driver, "dry-run-requests")
    assert "Made in the browser" not in {r["Name"] for r in served[1].read("Lists")}
    driver.find_element("id", "confirm-write").click()
    wait(driver, lambda d: d.find_elements("id", "write-report"))
    assert "insert: 1 row(s) in Lists" in text_of(driver, "write-report")
    assert "Made in the browser" in {r["Name"] for r in served[1].read("Lists")}


def test_replication_runs_with_progress_and_ends_with_its_report(page: Callable[[str], Any], tmp_path: Path) -> None:
    driver = page("replicate")
    target = driver.find_element("id", "target")
    target.clear()
    target.send_keys(f"sqlite:///{tmp_path / 'copy.db'}")
    driver.find_element("id", "rep-objects").send_keys("Lists,Campaigns,Templates")
    driver.find_element("id", "replicate-button").click()
    wait(driver, lambda d: d.find_elements("css selector", '#job-state[data-state="done"]'))
    finished = {row[0]: int(row[1]) for row in grid(driver, "job-finished")}
    assert set(finished) == {"Lists", "Campaigns", "Templates"}
    assert f"total: {sum(finished.values())} rows read" in text_of(driver, "job-totals")
    assert driver.find_elements("css selector", "#replication-chart rect.rows")
    wait(driver, lambda d: d.find_elements("id", "freshness-grid"))
    fresh = {row[0]: int(row[2]) for row in grid(driver, "freshness-grid")}
    assert fresh == finished
    assert grid(driver, "history-grid")[0][-1] == "done"


def test_import_rejects_two_bad_rows(page: Callable[[str], Any], tmp_path: Path) -> None:
    source = tmp_path / "users.csv"
    source.write_text(BAD_ROWS_CSV, encoding="utf-8")
    driver = page("import")
    wait(driver, lambda d: d.find_elements("css selector", '#import-object option[value="Users"]'))
    from selenium.webdriver.support.ui import Select

    Select(driver.find_element("id", "import-object")).select_by_value("Users")
    Select(driver.find_element("id", "import-operation")).select_by_value("update")
    driver.find_element("id", "import-file").send_keys(str(source))
    wait(driver, lambda d: d.find_elements("css selector", '#mapping select[data-column="Email"]'))
    chosen = Select(driver.find_element("css selector", '#mapping select[data-column="Email"]'))
    assert chosen.first_selected_option.get_attribute("value") == "Email"  # suggested by name
    driver.find_element("id", "import-send").click()
    wait(driver, lambda d: d.find_elements("id", "rejects-grid"))
    assert "2 accepted, 2 rejected" in text_of(driver, "import-summary")
    rejected = grid(driver, "rejects-grid")
    assert [row[0] for row in rejected] == ["3", "5"]
    assert rejected[0][2] == "not-an-email"
    assert driver.find_element("id", "rejects-link").get_attribute("href").endswith("/rejects")


def test_events_per_day_show_the_api_cost_then_the_chart(
    page: Callable[[str], Any], served: tuple[ConsoleServer, iterbridge.Connection]
) -> None:
    driver = page("replicate")
    for field, day in (("events-start", "2026-10-18"), ("events-end", "2026-10-31")):
        driver.execute_script("document.getElementById(arguments[0]).value = arguments[1]", field, day)
    from selenium.webdriver.support.ui import Select

    Select(driver.find_element("id", "events-source")).select_by_value("api")
    driver.find_element("id", "events-button").click()
    wait(driver, lambda d: d.find_elements("id", "events-read"))
    assert "data.json" in grid(driver, "events-explain")[0][1]
    assert not driver.find_elements("id", "events-svg")  # nothing read before the click
    driver.find_element("id", "events-read").click()
    wait(driver, lambda d: d.find_elements("id", "events-grid"))
    shown = sum(int(row[2]) for row in grid(driver, "events-grid"))
    created = [r["CreatedAt"].date().isoformat() for r in served[1].read("Events", columns=["CreatedAt"])]
    assert shown == sum(1 for day in created if "2026-10-18" <= day <= "2026-10-31") > 0
    assert driver.find_elements("css selector", "#events-svg rect.event-bar")
