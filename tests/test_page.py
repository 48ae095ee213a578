"""The page of `mmcf serve` in headless Chromium:
type a title, add a seed found by search, see the continuation.

Needs Debian's `chromium` and `chromium-driver` (`.ci/run` installs them) and selenium (the `test`
extra); skipped with a message when they are absent. The screenshot is left in pytest's tmp
directory.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1100,1300",
)

pytestmark = pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER),
    reason="headless page test needs chromium and "
    "chromedriver (apt-get install chromium chromium-driver)",
)


@pytest.fixture
def browser(tmp_path: Path):
    webdriver = pytest.importorskip(
        "selenium.webdriver", reason="the page test needs selenium (pip install '.[test]')"
    )
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*FLAGS, f"--user-data-dir={tmp_path / 'chromium-profile'}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(
        options=options, service=webdriver.ChromeService(executable_path=CHROMEDRIVER)
    )
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def test_page_continues_a_playlist(browser, server_url, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ready
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(browser, 20)
    browser.get(server_url + "/")
    wait.until(ready.text_to_be_present_in_element((By.ID, "status"), "model knn"))
    browser.find_element(By.ID, "title").send_keys("Rock Anthems")
    browser.find_element(By.ID, "search").send_keys("sóng 0-1")
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#found li button"))
    found = browser.find_element(By.CSS_SELECTOR, "#found li .name").text
    browser.find_element(By.CSS_SELECTOR, "#found li button").click()
    assert browser.find_element(By.CSS_SELECTOR, "#seeds li .name").text == found
    browser.find_element(By.ID, "go").click()
    rows = wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#results tr.result"))
    cells = [[td.text for td in row.find_elements(By.TAG_NAME, "td")] for row in rows]
    assert len(cells) == 20 and all(
        c[1].startswith("Sóng ") and c[2].startswith("Artíst ") for c in cells
    )
    assert found not in {c[1] for c in cells}  # the seed is not recommended back
    scores = [float(c[3]) for c in cells]
    assert scores == sorted(scores, reverse=True) and scores[0] > 0
    assert browser.find_element(By.ID, "error").text == ""
    shot = tmp_path / "serve-page.png"
    assert browser.save_screenshot(str(shot)) and shot.stat().st_size > 10_000
