"""The step runner in a real browser: headless Chromium (Debian's ``chromium`` and
``chromium-driver``) driven by selenium, on the page served over a sandbox.

Each test saves a screenshot under tests/ui/artifacts/ (not committed). The tests skip, saying
why, where selenium, chromium or chromedriver is missing.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from sandbox import seed

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (dev extra)")
from selenium.common.exceptions import WebDriverException  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.remote.webdriver import WebDriver  # noqa: E402
from selenium.webdriver.remote.webelement import WebElement  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

ARTIFACTS = Path(__file__).parent / "artifacts"
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1400,1000",
)
WAIT = 30.0
"""Upper bound of a wait for the page (a run on the sandbox); a wait ends as soon as its condition holds."""


REQUIRE_BROWSER = "OUTLOOK_CONNECTOR_REQUIRE_BROWSER"


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    if chromium is None or driver_path is None:
        reason = (
            "no browser: the browser tests need Debian's chromium and chromium-driver"
            " (apt-get install -y chromium chromium-driver)"
        )
        if os.environ.get(REQUIRE_BROWSER):  # CI installs them: a missing browser is a failure there
            pytest.fail(f"{REQUIRE_BROWSER} is set but {reason}")
        pytest.skip(reason)
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    with tempfile.TemporaryDirectory(prefix="ui-chromium-") as profile:
        options.add_argument(f"--user-data-dir={profile}")
        # an explicit driver path: selenium's driver manager would otherwise go to the network
        try:
            driver = webdriver.Chrome(options=options, service=Service(driver_path))
        except WebDriverException as exc:
            pytest.skip(f"chromium did not start: {exc.msg}")
        try:
            yield driver
        finally:
            driver.quit()


@pytest.fixture
def page(browser: WebDriver, ui_url: str, request: pytest.FixtureRequest) -> Iterator[WebDriver]:
    """The page freshly loaded with the sandbox chosen; a screenshot is saved after the test."""
    browser.get(ui_url + "/")
    until(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#groups .entry"))
    until(browser, lambda d: d.find_element(By.ID, "connection").get_attribute("value") == "@sandbox")
    yield browser
    ARTIFACTS.mkdir(exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / f"{request.node.name}.png"))


def until(driver: WebDriver, condition: Callable[[WebDriver], Any]) -> Any:
    return WebDriverWait(driver, WAIT).until(condition)


def field(driver: WebDriver, path: str, tag: str = "input, select, textarea") -> WebElement:
    """The input of the form field at json-editor path ``path`` (``root.to.0``)."""
    selector = ", ".join(f'[data-schemapath="{path}"] {t.strip()}' for t in tag.split(","))
    return driver.find_element(By.CSS_SELECTOR, selector)


def open_step(driver: WebDriver, key: str) -> None:
    driver.find_element(By.CSS_SELECTOR, f'.entry[data-key="{key}"]').click()
    until(driver, lambda d: d.find_element(By.ID, "step-key").text == key)
    until(driver, lambda d: d.execute_script("return !!(state.editor && state.editor.ready)"))


def run_and_wait(driver: WebDriver, expected: str = "done") -> None:
    driver.find_element(By.ID, "run").click()
    until(driver, lambda d: d.find_element(By.ID, "run-status").text not in ("", "running…"))
    assert driver.find_element(By.ID, "run-status").text == expected


def output(driver: WebDriver) -> Any:
    return json.loads(driver.find_element(By.ID, "output-json").text)


def type_into(element: WebElement, text: str) -> None:
    element.clear()
    element.send_keys(text)


def _find_option(picker: WebElement, label: str) -> WebElement | None:
    """The option labelled ``label``; else the next page is asked for (the search filters each
    page of folders, so a page may hold no match while More leads on)."""
    for option in picker.find_elements(By.CSS_SELECTOR, ".option"):
        if option.text.split("\n")[0] == label:
            return option
    more = picker.find_element(By.CSS_SELECTOR, ".picker-more")
    status = picker.find_element(By.CSS_SELECTOR, ".picker-status").text
    if more.is_displayed() and status != "loading…":
        more.click()
    return None


def test_send_message_then_list_a_folder_picked_from_the_dropdown(page: WebDriver) -> None:
    subject = f"Step runner {uuid.uuid4().hex[:6]}"
    open_step(page, "send_message")
    type_into(field(page, "root.to", "input"), seed.DEFAULT_USER)  # "Addresses": the first choice
    type_into(field(page, "root.subject"), subject)
    type_into(field(page, "root.body"), "<p>Sent from the step runner.</p>")
    run_and_wait(page)
    sent = output(page)
    assert sent["sent"] is True and sent["subject"] == subject

    open_step(page, "list_messages")
    page.find_element(By.CSS_SELECTOR, '.choose[data-field="folder_id"]').click()
    picker = page.find_element(By.CSS_SELECTOR, '.picker[data-field="folder_id"]')
    until(page, lambda d: picker.find_elements(By.CSS_SELECTOR, ".option"))
    type_into(picker.find_element(By.CSS_SELECTOR, ".picker-search"), "sent")
    option = until(page, lambda d: _find_option(picker, "Sent Items"))
    key = option.get_attribute("data-key")
    option.click()
    assert field(page, "root.folder_id").get_attribute("value") == key
    assert page.find_element(By.CSS_SELECTOR, '[data-schemapath="root.folder_id"] .picked').text == (
        "picked: Sent Items"
    )
    type_into(field(page, "root.search"), subject)
    run_and_wait(page)
    rows = page.find_elements(By.CSS_SELECTOR, 'table.rows[data-list="messages"] tbody tr')
    assert len(rows) == 1 and subject in rows[0].text
    assert [m["parentFolderId"] for m in output(page)["messages"]] == [key]
    page.execute_script("document.querySelector('[data-schemapath=\"root.folder_id\"]').scrollIntoView()")


def test_field_error_is_shown_next_to_its_field(page: WebDriver) -> None:
    open_step(page, "list_messages")
    type_into(field(page, "root.top"), "5000")
    run_and_wait(page, "invalid input: nothing was sent")
    error = page.find_element(By.CSS_SELECTOR, '[data-schemapath="root.top"] .field-error')
    assert error.get_attribute("data-path") == "top" and "top:" in error.text
    assert not page.find_elements(By.CSS_SELECTOR, '[data-schemapath="root.skip"] .field-error')


def test_graph_error_shows_its_code_and_request_id(page: WebDriver) -> None:
    open_step(page, "get_message")
    assert page.find_elements(By.CSS_SELECTOR, '[data-schemapath="root.message_id"] label.required')
    assert not page.find_elements(By.CSS_SELECTOR, '[data-schemapath="root.user_id"] label.required')
    type_into(field(page, "root.message_id"), "AAMkAGNoSuchMessage=")
    run_and_wait(page, "failed")
    box = page.find_element(By.ID, "graph-error")
    assert box.is_displayed() and box.text.startswith("Graph error 404")
    request_id = box.find_element(By.CSS_SELECTOR, ".request-id").text.removeprefix("request-id: ")
    assert request_id == output(page)["error"]["request_id"] != ""


def test_list_action_is_shown_as_a_table_and_pages(page: WebDriver) -> None:
    open_step(page, "list_messages")
    type_into(field(page, "root.folder_id"), "inbox")
    type_into(field(page, "root.top"), "5")
    run_and_wait(page)
    first = [m["id"] for m in output(page)["messages"]]
    assert len(first) == 5
    assert len(page.find_elements(By.CSS_SELECTOR, "table.rows tbody tr")) == 5
    page.find_element(By.ID, "next-page").click()
    until(page, lambda d: d.find_element(By.ID, "page-number").text == "page 2")
    second = [m["id"] for m in output(page)["messages"]]
    assert len(second) == 5 and not set(first) & set(second)
    assert len(page.find_elements(By.CSS_SELECTOR, "table.rows tbody tr")) == 5


def test_catalogue_search_narrows_the_groups(page: WebDriver) -> None:
    type_into(page.find_element(By.ID, "search"), "attachment")
    visible = [e for e in page.find_elements(By.CSS_SELECTOR, "#groups .entry") if e.is_displayed()]
    assert visible and all(
        "attachment" in (e.text + (e.get_attribute("title") or "")).lower()
        or "attachment" in (e.get_attribute("data-key") or "")
        for e in visible
    )
    assert len(visible) < len(page.find_elements(By.CSS_SELECTOR, "#groups .entry"))


def test_trigger_started_on_the_sandbox_shows_its_events_live(page: WebDriver, ui_url: str) -> None:
    open_step(page, "mail_message_webhook")
    assert field(page, "root.folder_id").get_attribute("value") == "inbox"  # the schema's default
    page.find_element(By.ID, "run").click()
    until(page, lambda d: d.find_element(By.ID, "run-status").text.startswith("trigger instance"))
    subject = f"Live event {uuid.uuid4().hex[:6]}"
    sent = httpx.post(
        f"{ui_url}/api/run/send_message",
        json={"connection": "@sandbox", "input": {"to": [seed.DEFAULT_USER], "subject": subject}},
        timeout=WAIT,
    )
    assert sent.status_code == 200, sent.text
    event = until(
        page,
        lambda d: next(
            (e for e in d.find_elements(By.CSS_SELECTOR, "#event-list .event") if subject in e.text), None
        ),
    )
    assert event.text.startswith("created message")
    page.find_element(By.ID, "stop-trigger").click()
    until(page, lambda d: d.find_element(By.ID, "run-status").text.endswith("stopped"))


def test_policy_switch_asks_for_approval_before_sending(page: WebDriver) -> None:
    from selenium.webdriver.support.ui import Select

    open_step(page, "send_message")
    until(page, lambda d: d.find_element(By.ID, "step-policy").is_displayed())
    Select(page.find_element(By.ID, "step-policy-setting")).select_by_value("approve")
    until(page, lambda d: d.find_element(By.ID, "policy-status").get_attribute("textContent") == "saved")
    subject = f"Approved {uuid.uuid4().hex[:6]}"
    type_into(field(page, "root.to", "input"), seed.DEFAULT_USER)
    type_into(field(page, "root.subject"), subject)
    run_and_wait(page, "waiting for approval: nothing was sent")
    assert "send_message" in page.find_element(By.ID, "approval-summary").text
    page.find_element(By.ID, "policy-toggle").click()  # the panel shows the override
    until(page, lambda d: "send_message" in d.find_element(By.ID, "policy-overrides").text)
    page.find_element(By.ID, "approve-run").click()
    until(page, lambda d: d.find_element(By.ID, "run-status").text == "done")
    assert output(page)["subject"] == subject
    Select(page.find_element(By.ID, "step-policy-setting")).select_by_value("inherit")
    until(page, lambda d: "none" in d.find_element(By.ID, "policy-overrides").text)
    page.execute_script("window.scrollTo(0, 0); document.getElementById('step').scrollTo(0, 0)")
