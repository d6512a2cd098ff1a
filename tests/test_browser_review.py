"""The review form and the public pages in a real browser: headless Chromium against the site served live over ASGI.

The server is uvicorn in a thread of this process running the project's ASGI application (Django
pages and the Channels websocket), so it shares the test database, in-memory SQLite included, and
starts no Twisted reactor that other tests could trip over.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from brands.models import Company
from core.privacy import hash_ip
from ml.inference import predict
from reviews.models import UserReview
from reviews.wording import SENTIMENT_WORDS
from tests.conftest import ROOT, browser_marks, chromium, free_port

selenium = pytest.importorskip("selenium")
from selenium import webdriver  # noqa: E402
from selenium.common.exceptions import (  # noqa: E402
    NoSuchElementException,
    StaleElementReferenceException,
    WebDriverException,
)
from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

# Each test starts with empty budgets: a module's typing scores several hundred texts from 127.0.0.1 a
# minute, more than one address's THROTTLE_PREDICT allows.
pytestmark = [*browser_marks(), pytest.mark.usefixtures("empty_cache")]

ARTIFACTS = ROOT / "test-artifacts"
POSITIVE = "Wonderful shop! Friendly staff, fast delivery and excellent quality. I love it."
NEGATIVE = "Terrible service. Rude staff, a broken product and awful support. Horrible."
# Typing and the first answer of a busy CI machine can be slow; the "within a second" is
# what a visitor sees on an idle one: the elapsed times are written to test-artifacts/ instead.
WAIT_S = 10


class WebsocketSwitch:
    """Wraps the ASGI application; while `down`, every websocket handshake is refused (a proxy without websockets)."""

    def __init__(self, application) -> None:
        self.application = application
        self.down = False

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "websocket" and self.down:
            await receive()  # websocket.connect
            await send({"type": "websocket.close", "code": 1011})
            return
        await self.application(scope, receive, send)


@pytest.fixture(scope="module")
def live_server_app() -> Iterator[tuple[str, WebsocketSwitch]]:
    """The project's ASGI application served on 127.0.0.1 by uvicorn in a background thread."""
    import uvicorn

    from config.asgi import application

    switch = WebsocketSwitch(application)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(switch, host="127.0.0.1", port=port, ws="wsproto", lifespan="off", log_level="warning")
    )
    thread = threading.Thread(target=server.run, name="live-asgi", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the live ASGI server did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", switch
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def live_url(live_server_app) -> Iterator[str]:
    url, switch = live_server_app
    switch.down = False
    yield url
    switch.down = False


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[webdriver.Chrome]:
    driver = chromium(f"--user-data-dir={tmp_path / 'chromium-profile'}", logs=("browser",))
    driver.set_window_size(1280, 1000)
    driver.set_page_load_timeout(30)
    try:
        yield driver
        problems = [
            entry["message"]
            for entry in driver.get_log("browser")
            if entry["level"] == "SEVERE" and "/ws/sentiment/" not in entry["message"]
        ]
        assert problems == [], "the page logged errors (a Content-Security-Policy violation?)"
    finally:
        driver.quit()


@pytest.fixture
def brands(transactional_db, brands) -> list[Company]:
    """The shared three brands, committed for the server thread, with the model loaded as on a running site."""
    predict("warm up the model")  # before the browser types
    return brands


def wait(driver, condition, timeout: float = WAIT_S):
    # While a page is being replaced, an element found a moment ago can go stale: look again. Chromium
    # sometimes says so as an inspector error ("Node with given id does not belong to the document").
    ignored = (NoSuchElementException, StaleElementReferenceException)

    def check(_driver):
        try:
            return condition()
        except WebDriverException as error:
            if "does not belong to the document" in str(error):
                return False
            raise

    return WebDriverWait(driver, timeout, poll_frequency=0.02, ignored_exceptions=ignored).until(check)


def sentiment(driver) -> tuple[str, str | None]:
    """The bar's band (1-5 stars, or none) and the checked star, as the page shows them."""
    return tuple(
        driver.execute_script(
            "const checked = document.querySelector('input[name=rating]:checked');"
            "return [document.getElementById('sentiment').dataset.band, checked ? checked.value : null];"
        )
    )


def page_state(driver) -> dict:
    """What the rating part of the form shows: the outlined (suggested) stars, the suggestion line, how rated."""
    return driver.execute_script(
        "return {ghost: document.getElementById('stars').dataset.suggested || null,"
        " suggestion: document.getElementById('suggestion').hidden ? null"
        "   : document.getElementById('suggestion-visible').textContent,"
        " spoken: document.getElementById('suggestion-spoken').textContent,"
        " source: document.querySelector('input[name=rating_source]').value,"
        " words: document.getElementById('sentiment-text').textContent,"
        " announced: document.getElementById('sentiment-announce').textContent};"
    )


def shown_score(driver) -> float | None:
    """The score of the prediction the page shows now (None before the first one)."""
    score = driver.find_element(By.ID, "sentiment").get_attribute("data-score")
    return float(score) if score else None


def type_text(driver, text: str) -> float:
    """Replace the review text by typing it as a visitor would; returns when the last key was typed."""
    box = driver.find_element(By.ID, "id_text")
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys(Keys.BACKSPACE)
    box.send_keys(text)
    return time.monotonic()


def save_timings(name: str, timings: dict) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / f"{name}.json").write_text(json.dumps(timings, indent=2))


def fits_the_screen(driver) -> bool:
    return driver.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")


def thanked(driver) -> bool:
    return "Thank you for reviewing" in driver.find_element(By.TAG_NAME, "main").text


WIDTHS = pytest.mark.parametrize(("width", "height"), [(1280, 800), (390, 844)], ids=["desktop", "phone"])


def test_live_sentiment_suggests_without_choosing_and_a_star_click_is_picked(browser, live_url, brands):
    browser.get(live_url + "/")
    form = browser.find_element(By.ID, "review-form")
    wait(browser, lambda: form.get_attribute("data-transport") == "websocket")
    submit = browser.find_element(By.ID, "submit-review")
    assert not submit.is_enabled()  # nothing typed yet
    brand_slug = browser.find_element(By.NAME, "brand").get_attribute("value")
    # The stars are asked first, above the text.
    assert browser.find_element(By.ID, "stars").location["y"] < browser.find_element(By.ID, "id_text").location["y"]

    typed = type_text(browser, POSITIVE)
    wait(browser, lambda: sentiment(browser)[0] in ("4", "5"))
    positive_s = time.monotonic() - typed
    band = int(sentiment(browser)[0])
    state = page_state(browser)
    # A suggestion: outlined stars and a line with "Use suggestion", never a chosen star.
    assert sentiment(browser)[1] is None
    assert state["ghost"] == str(band) and state["suggestion"] == f"Suggested: {band}★"
    assert state["spoken"] == f"Suggested: {band} stars"
    assert state["words"] == f"Sentiment: {SENTIMENT_WORDS[band]}" and "%" not in state["words"]
    assert state["announced"] == f"Sentiment {SENTIMENT_WORDS[band].lower()}. Suggested: {band} stars."

    typed = type_text(browser, NEGATIVE)
    wait(browser, lambda: sentiment(browser)[0] in ("1", "2"))
    negative_s = time.monotonic() - typed
    save_timings("browser-live-sentiment", {"positive_s": round(positive_s, 3), "negative_s": round(negative_s, 3)})
    band = int(sentiment(browser)[0])
    assert sentiment(browser)[1] is None
    assert page_state(browser)["spoken"] == f"Suggested: {'1 star' if band == 1 else '2 stars'}"  # never "1 stars"

    # Submit without a rating the visitor gave is refused, beside the stars, and nothing is sent.
    submit.click()
    required = browser.find_element(By.ID, "rating-required")
    wait(browser, lambda: required.is_displayed())
    assert required.text == "Choose your rating: click a star from 1 to 5, or use the suggestion."
    assert UserReview.objects.count() == 0

    # The visitor clicks 3 stars: typing on no longer moves anything, the suggestion stays a suggestion.
    browser.find_element(By.CSS_SELECTOR, "label[for=rating-3]").click()
    assert not required.is_displayed()
    assert page_state(browser)["source"] == "picked" and page_state(browser)["ghost"] is None
    text = (
        NEGATIVE
        + " But then they fixed everything: excellent, wonderful, amazing, great and lovely people. I love them!"
    )
    expected = predict(text)
    browser.find_element(By.ID, "id_text").send_keys(text[len(NEGATIVE) :])
    # The answer for the whole text is the last the page gets: once it shows, every earlier one has
    # arrived too, and the pick must have survived them all.
    wait(browser, lambda: shown_score(browser) == pytest.approx(expected["score"], abs=1e-9))
    assert sentiment(browser) == (str(expected["suggested_rating"]), "3")
    assert page_state(browser)["suggestion"] == f"Suggested: {expected['suggested_rating']}★"

    ARTIFACTS.mkdir(exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "review-form.png"))
    browser.set_window_size(390, 844)  # a phone: nothing wider than the screen
    assert fits_the_screen(browser)
    browser.save_screenshot(str(ARTIFACTS / "review-form-phone.png"))
    browser.set_window_size(1280, 1000)

    ActionChains(browser).double_click(browser.find_element(By.ID, "submit-review")).perform()
    wait(browser, lambda: thanked(browser))
    review = UserReview.objects.get()  # a double click stores one review
    assert review.company.slug == brand_slug
    assert review.text == text
    assert (review.rating, review.rating_source) == (3, UserReview.RatingSource.PICKED)
    assert review.suggested_rating == expected["suggested_rating"]
    assert review.score == pytest.approx(expected["score"], abs=1e-4)
    assert review.model_name == expected["model"]
    assert review.ip_hash == hash_ip("127.0.0.1")
    assert "Chrome" in review.user_agent
    # The thank-you page offers another brand, with nothing chosen.
    assert browser.find_element(By.NAME, "brand").get_attribute("value") != brand_slug
    assert sentiment(browser) == ("none", None)


@WIDTHS
def test_use_suggestion_then_submit_stores_an_accepted_rating(browser, live_url, brands, width, height):
    browser.set_window_size(width, height)
    browser.get(f"{live_url}/?brand={brands[0].slug}")
    assert fits_the_screen(browser)
    browser.find_element(By.ID, "id_title").send_keys("Lovely boots")
    browser.find_element(By.ID, "id_display_name").send_keys("Sam")
    type_text(browser, POSITIVE)
    use = browser.find_element(By.ID, "use-suggestion")
    wait(browser, lambda: use.is_displayed())
    suggested = int(page_state(browser)["ghost"])
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", use)
    use.click()
    assert sentiment(browser)[1] == str(suggested)
    assert page_state(browser)["source"] == "accepted"
    assert use.text == "Suggestion used" and not use.is_enabled()
    assert browser.find_element(By.ID, "rating-word").text  # the word of the stars given, e.g. "Excellent"
    assert fits_the_screen(browser)
    browser.save_screenshot(str(ARTIFACTS / f"review-form-accepted-{width}.png"))
    submit = browser.find_element(By.ID, "submit-review")
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", submit)
    submit.click()
    wait(browser, lambda: thanked(browser))
    review = UserReview.objects.get()
    assert (review.rating, review.rating_source) == (suggested, UserReview.RatingSource.ACCEPTED)
    assert (review.title, review.display_name) == ("Lovely boots", "Sam")


def test_review_another_brand_without_reloading(browser, live_url, brands):
    browser.get(live_url + "/")
    browser.execute_script("window.notReloaded = true;")
    seen = [browser.find_element(By.ID, "brand-name").text]
    for _ in range(4):
        browser.find_element(By.ID, "id_text").send_keys("half a thought")
        browser.find_element(By.ID, "next-brand").click()
        wait(browser, lambda: browser.find_element(By.ID, "brand-name").text != seen[-1])
        seen.append(browser.find_element(By.ID, "brand-name").text)
        assert browser.find_element(By.ID, "id_text").get_attribute("value") == ""
        assert sentiment(browser) == ("none", None)
    assert browser.execute_script("return window.notReloaded === true")
    assert set(seen) <= {b.name for b in brands}
    assert all(a != b for a, b in itertools.pairwise(seen))
    heading = browser.find_element(By.ID, "review-heading").text
    assert heading == f"What do you think of {seen[-1]}?"
    wait(browser, lambda: logo_loaded(browser))

    # The brand switched in place is the one the review is stored for (its token is that brand's).
    type_text(browser, POSITIVE)
    wait(browser, lambda: sentiment(browser)[0] in ("4", "5"))
    browser.find_element(By.CSS_SELECTOR, "label[for=rating-5]").click()
    browser.find_element(By.ID, "submit-review").click()
    wait(browser, lambda: thanked(browser))
    assert UserReview.objects.get().company.name == seen[-1]


def test_websocket_down_falls_back_to_http_and_the_keyboard_does_everything(browser, live_server_app, live_url, brands):
    live_server_app[1].down = True  # the server refuses every websocket handshake from now on
    browser.get(live_url + "/")
    form = browser.find_element(By.ID, "review-form")
    wait(browser, lambda: form.get_attribute("data-transport") == "http")
    type_text(browser, NEGATIVE)
    wait(browser, lambda: sentiment(browser)[0] in ("1", "2"))
    type_text(browser, POSITIVE)
    wait(browser, lambda: sentiment(browser)[0] in ("4", "5"))
    assert form.get_attribute("data-transport") == "http"
    suggested = int(sentiment(browser)[0])

    def focused() -> str:
        return browser.execute_script("return document.activeElement.id")

    # Keyboard only. Shift+Tab from the text reaches "Use suggestion"; Enter accepts it.
    ActionChains(browser).key_down(Keys.SHIFT).send_keys(Keys.TAB).key_up(Keys.SHIFT).perform()
    assert focused() == "use-suggestion"
    ActionChains(browser).send_keys(Keys.ENTER).perform()
    wait(browser, lambda: sentiment(browser)[1] == str(suggested))
    assert page_state(browser)["source"] == "accepted"
    # Shift+Tab again reaches the stars; an arrow key picks another one, which is then the visitor's own.
    ActionChains(browser).key_down(Keys.SHIFT).send_keys(Keys.TAB).key_up(Keys.SHIFT).perform()
    assert focused() == f"rating-{suggested}"
    ActionChains(browser).send_keys(Keys.ARROW_LEFT).perform()
    wait(browser, lambda: sentiment(browser)[1] == str(suggested - 1))
    assert page_state(browser)["source"] == "picked"
    assert page_state(browser)["suggestion"] == f"Suggested: {suggested}★"
    for _ in range(12):  # Tab on to Submit and press Enter
        if focused() == "submit-review":
            break
        ActionChains(browser).send_keys(Keys.TAB).perform()
    assert focused() == "submit-review"
    ActionChains(browser).send_keys(Keys.ENTER).perform()
    wait(browser, lambda: thanked(browser))
    review = UserReview.objects.get()
    assert (review.rating, review.rating_source) == (suggested - 1, UserReview.RatingSource.PICKED)


@WIDTHS
def test_an_unknown_brand_says_so_and_offers_another(browser, live_url, brands, width, height):
    browser.set_window_size(width, height)
    browser.get(live_url + "/?brand=no-such-brand")
    notice = browser.find_element(By.ID, "brand-notice")
    assert notice.is_displayed() and notice.text == "We could not find that brand; here is another."
    assert browser.find_element(By.ID, "brand-name").text in {b.name for b in brands}
    assert fits_the_screen(browser)
    browser.save_screenshot(str(ARTIFACTS / f"unknown-brand-{width}.png"))
    browser.find_element(By.ID, "next-brand").click()  # the notice belongs to the first brand shown
    wait(browser, lambda: not browser.find_elements(By.ID, "brand-notice"))
    wait(browser, lambda: logo_loaded(browser))


@WIDTHS
def test_an_unknown_brand_page_is_a_styled_404_with_a_way_back(browser, live_url, brands, width, height):
    browser.set_window_size(width, height)
    browser.get(live_url + "/brands/no-such-brand/")
    browser.get_log("browser")  # the 404 itself is logged as a failed load: expected here
    assert browser.find_element(By.TAG_NAME, "h1").text == "We could not find that brand"
    assert browser.execute_script("return getComputedStyle(document.body).display") == "flex"  # the stylesheet
    assert fits_the_screen(browser)
    browser.save_screenshot(str(ARTIFACTS / f"not-found-{width}.png"))
    browser.find_element(By.LINK_TEXT, "Browse brands").click()
    wait(browser, lambda: browser.current_url.endswith("/brands/"))
    cards = browser.find_elements(By.CSS_SELECTOR, ".brand-card-name")
    assert sorted(card.text for card in cards) == sorted(b.name for b in brands)
    assert fits_the_screen(browser)


def logo_loaded(driver) -> bool:
    """The brand's logo has loaded: wait for it before a test ends, or its late request finds no database (a 404)."""
    return driver.execute_script(
        "const logo = document.getElementById('brand-logo'); return logo.complete && logo.naturalWidth > 0"
    )


def why_state(driver) -> dict:
    """What "Why this suggestion?" shows: the phrases under the bar, the disclosure, whether it is read out."""
    return driver.execute_script(
        "const phrases = Array.from(document.querySelectorAll('#why-phrases .why-phrase'));"
        "const items = Array.from(document.querySelectorAll('#why-list li'));"
        "return {state: document.getElementById('why').dataset.state,"
        " visible: getComputedStyle(document.getElementById('why')).visibility,"
        " phrases: phrases.map(p => [p.dataset.push, p.querySelector('.why-sign').textContent,"
        "   p.querySelector('.why-word').textContent,"
        "   getComputedStyle(p.querySelector('.why-word')).textDecorationStyle]),"
        " hidden_from_readers: document.getElementById('why-phrases').getAttribute('aria-hidden'),"
        " open: document.getElementById('why-details').open,"
        " live: document.getElementById('why-list').getAttribute('aria-live'),"
        " items: items.map(li => li.textContent),"
        " height: document.getElementById('why').getBoundingClientRect().height};"
    )


@WIDTHS
def test_the_strongest_phrases_are_highlighted_while_typing(browser, live_url, brands, width, height):
    browser.set_window_size(width, height)
    browser.get(live_url + "/")
    wait(browser, lambda: browser.find_element(By.ID, "review-form").get_attribute("data-transport") == "websocket")
    empty = why_state(browser)
    assert empty["state"] == "empty" and empty["visible"] == "hidden"  # the line is kept, so nothing jumps later
    text = "Terrible support and rude staff, but the boots are excellent and I highly recommend the shop."
    type_text(browser, text)
    wait(browser, lambda: shown_score(browser) == pytest.approx(predict(text)["score"], abs=1e-9))
    wait(browser, lambda: why_state(browser)["state"] == "shown")
    shown = why_state(browser)
    assert shown["visible"] == "visible" and shown["height"] == pytest.approx(empty["height"], abs=1)
    # Marked by sign and underline style, not by colour alone: + solid pushes up, − dotted pushes down.
    pushes = {phrase: (push, sign, style) for push, sign, phrase, style in shown["phrases"]}
    assert pushes["Terrible"] == ("down", "−", "dotted")
    assert {pushes[word] for word in ("recommend", "excellent") if word in pushes} == {("up", "+", "solid")}
    assert shown["hidden_from_readers"] == "true" and shown["open"] is False and shown["live"] == "off"
    # Screen readers hear the list only once it is opened, in words.
    browser.find_element(By.CSS_SELECTOR, "#why-details summary").click()
    wait(browser, lambda: why_state(browser)["live"] == "polite")
    opened = why_state(browser)
    assert "−“Terrible” pushes the suggestion down" in opened["items"]  # the sign itself is hidden from readers
    assert any(item.endswith("pushes the suggestion up") for item in opened["items"])
    assert fits_the_screen(browser)
    browser.execute_script("document.getElementById('why').scrollIntoView({block: 'center'})")
    shots = ROOT / "docs" / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(shots / f"explain-{'desktop' if width > 600 else 'phone'}.png"))
