"""The chat page in a real headless browser (Debian's chromium and its driver) against a real server: type, see
the reply bubble, reload, and the conversation is still there."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from bot.serve.app import create_app
from bot.serve.core import Service, Settings
from tests.conftest import ME
from tests.serve.conftest import running

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install talklike[dev])")
if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
    pytest.skip("chromium and chromedriver are not installed (apt-get install chromium chromium-driver)",
                allow_module_level=True)

from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as ec  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

TOKEN = "page-token-1234"


@pytest.fixture(scope="module")
def browser():
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service as Driver

    profile = tempfile.mkdtemp(prefix="talklike-chromium-")
    options = Options()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
                 f"--user-data-dir={profile}", "--window-size=900,720"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Driver(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def serve(workspace, **kw):
    settings = Settings(data=workspace.root, strategy="greedy", **kw)
    service = Service(settings)
    service.load_default()
    return service, running(settings, create_app(settings, service=service))


def texts(driver, css: str) -> list[str]:
    return [e.text for e in driver.find_elements(By.CSS_SELECTOR, css)]


def say(driver, text: str, replies_before: int) -> None:
    box = driver.find_element(By.ID, "message")
    box.send_keys(text)
    driver.find_element(By.ID, "send").click()
    WebDriverWait(driver, 60).until(lambda d: len(texts(d, ".bubble.bot")) > replies_before)


def test_type_see_the_reply_reload_and_the_conversation_is_still_there(browser, served_workspace, tmp_path):
    service, server = serve(served_workspace)
    with server as url:
        browser.get(url)
        wait = WebDriverWait(browser, 30)
        wait.until(ec.text_to_be_present_in_element((By.ID, "title"), ME))
        assert browser.title == f"{ME} · talklike"
        assert [o.text for o in browser.find_elements(By.CSS_SELECTOR, "#strategy option")][:2] == [
            "default (sample)", "greedy"]
        say(browser, "hello there", 0)
        assert texts(browser, ".bubble.me") == ["hello there"]
        assert texts(browser, ".bubble.bot") == ["hi friend"]
        assert not browser.find_elements(By.CSS_SELECTOR, ".row.typing")

        browser.refresh()
        wait.until(lambda d: texts(d, ".bubble.bot") == ["hi friend"])
        assert texts(browser, ".bubble.me") == ["hello there"]
        say(browser, "how are you", 1)
        assert texts(browser, ".bubble.bot") == ["hi friend", "good thanks"]
        # one conversation for the tab, on the server too: it read the turns before
        web = [c for c in list(service.conversations._items) if "\x00web:" in c]
        assert len(web) == 1 and len(service.conversations.get(web[0], lambda: None).turns) == 4

        # text is text: markup typed into the box stays characters
        markup = '<img src=x onerror="document.title=1">'
        say(browser, markup, 2)
        assert texts(browser, ".bubble.me")[-1] == markup and not browser.find_elements(By.CSS_SELECTOR, "#log img")
        assert browser.title == f"{ME} · talklike"
        browser.save_screenshot(str(tmp_path / "serve.png"))
        assert (tmp_path / "serve.png").stat().st_size > 1000

        # a new chat: the page and the server forget
        browser.find_element(By.ID, "reset").click()
        wait.until(lambda d: not texts(d, ".bubble"))
        wait.until(lambda d: not [c for c in list(service.conversations._items) if "\x00web:" in c])
        browser.execute_script("sessionStorage.clear()")


def test_the_page_asks_for_the_token_once(browser, served_workspace):
    _, server = serve(served_workspace, token=TOKEN)
    with server as url:
        browser.get(url)
        browser.execute_script("sessionStorage.clear()")
        browser.refresh()
        wait = WebDriverWait(browser, 30)
        wait.until(ec.visibility_of_element_located((By.ID, "token")))
        browser.find_element(By.ID, "token").send_keys("not-the-token")
        browser.find_element(By.CSS_SELECTOR, "#token-form button").click()
        wait.until(ec.text_to_be_present_in_element((By.ID, "token-problem"), "not accepted"))
        field = browser.find_element(By.ID, "token")
        field.clear()
        field.send_keys(TOKEN)
        browser.find_element(By.CSS_SELECTOR, "#token-form button").click()
        wait.until(ec.text_to_be_present_in_element((By.ID, "title"), ME))
        say(browser, "want pizza", 0)
        assert texts(browser, ".bubble.bot") == ["yes please"]
        browser.refresh()  # kept for the tab: not asked again
        wait.until(lambda d: texts(d, ".bubble.bot") == ["yes please"])
        assert not browser.find_element(By.ID, "token").is_displayed()
        browser.execute_script("sessionStorage.clear()")
