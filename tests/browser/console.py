#!/usr/bin/python3
"""tests/browser/console.py — the analyst's console in a real browser.

Headless Chromium, driven by Selenium through chromedriver (Debian:
chromium, chromium-driver, python3-selenium), opens the console URL that
`deconf-adapter serve` printed (tests/integration/test_console.c --browser
starts a federation, the agency's console, and this script), and, by
keyboard only:
  - lands on the notices page through the token URL (the token leaves the
    address bar), finds the notice that shows the agency's own raw value;
  - filters by case (a case it does not hold: no notice; its own: the
    notice again) and by kind, typing and pressing Enter;
  - follows the navigation to the receipts page and to the lookup page,
    types a value there and submits it with Enter: the agency's case and
    the notice are shown;
  - lists the unacknowledged notices, Tabs to the notice's outcome,
    chooses one by typing, Tabs to Acknowledge and presses Enter: the
    answer page says the federation accepted it, and the notice leaves
    the unacknowledged list;
  - a fresh browser without the token gets 403;
  - the counterpart's console (--counterpart-url; its `run` daemon fetches
    its notices) shows, next to its own notice and raw value, what this
    agency recorded, and none of this agency's raw values;
  - the federation's watch desk (--desk-url) lists the cautioned conflict
    as an open escalation of both agencies before the acknowledgment, of
    the counterpart alone after it, counts the outcome, and shows no raw
    value and no case reference of either;
and checks on every page that no raw value of another agency is there and
that no script runs (the CSP forbids any). A screenshot of each page is
saved under --shots. Exit status 0 when every check holds.

Chromium runs as root in CI containers: --no-sandbox is needed there (its
sandbox refuses root), --headless=new for no display, and
--disable-dev-shm-usage because containers give /dev/shm 64 MB.
"""
import argparse
import os
import sys
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

failures = []


def check(cond, what):
    print(("ok    " if cond else "FAIL  ") + what, flush=True)
    if not cond:
        failures.append(what)


def browser():
    opts = webdriver.ChromeOptions()
    opts.binary_location = "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                 "--disable-gpu", "--window-size=1366,900", "--no-proxy-server"):
        opts.add_argument(flag)
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True, help="the URL serve printed")
    ap.add_argument("--shots", required=True, help="directory for screenshots")
    ap.add_argument("--own-value", required=True)
    ap.add_argument("--own-case", required=True)
    ap.add_argument("--foreign-value", action="append", default=[])
    ap.add_argument("--own-value-2", required=True, help="another raw value of the agency")
    ap.add_argument("--counterpart-url", required=True)
    ap.add_argument("--counterpart-value", required=True)
    ap.add_argument("--counterpart-case", required=True)
    ap.add_argument("--desk-url", required=True)
    a = ap.parse_args()
    os.makedirs(a.shots, exist_ok=True)
    base = a.url.split("/login")[0]

    def page_ok(d, name, foreign=None):
        d.save_screenshot(os.path.join(a.shots, "console-%s.png" % name))
        src = d.page_source
        with open(os.path.join(a.shots, "console-%s.html" % name), "w") as f:
            f.write(src)
        for v in (a.foreign_value if foreign is None else foreign):
            check(v not in src,
                  "%s: no raw value of another agency (%s)" % (name, v))
        # nothing ran: a page script would have set this
        check(d.execute_script("return window.__pwned === undefined"),
              "%s: no script of the page ran" % name)
        return src

    def focus_and_type(d, elem_id, text, enter=True):
        """Reach a field by Tab from the top, as a keyboard user does."""
        body = d.find_element(By.TAG_NAME, "body")
        body.click()
        for _ in range(40):
            d.switch_to.active_element.send_keys(Keys.TAB)
            if d.switch_to.active_element.get_attribute("id") == elem_id:
                break
        el = d.switch_to.active_element
        check(el.get_attribute("id") == elem_id, "reached #%s by keyboard" % elem_id)
        el.send_keys(Keys.CONTROL, "a")
        el.send_keys(text)
        if enter:
            el.send_keys(Keys.ENTER)

    # on the watch desk: no raw value and no case reference of either
    desk_secrets = a.foreign_value + [a.own_value, a.own_value_2, a.own_case,
                                      a.counterpart_case]

    def desk_rows(d):
        """(not acknowledged by, counterpart) of each open escalation."""
        rows = []
        for tr in d.find_elements(By.CSS_SELECTOR, "tr.escalation"):
            td = tr.find_elements(By.TAG_NAME, "td")
            rows.append((td[0].text.split("\n")[0], td[1].text.split("\n")[0]))
        return rows

    def desk_until(d, what, cond, seconds=40):
        """Reload the desk until cond(d) (it refreshes from a 5 s snapshot)."""
        end = time.time() + seconds
        while True:
            d.get(a.desk_url)
            if cond(d) or time.time() > end:
                break
            time.sleep(1)
        check(cond(d), "watch desk: " + what)

    d = browser()
    try:
        d.set_page_load_timeout(20)
        # the watch desk, before anyone acknowledged: the armed conflict
        # escalated (2 s) on both sides
        desk_until(d, "both agencies' sides are open escalations",
                   lambda d: sorted(desk_rows(d)) == [("agency-a", "agency-b"),
                                                      ("agency-b", "agency-a")])
        check("armed" in d.find_element(By.ID, "escalation-list").text,
              "watch desk: the caution flag is shown")
        page_ok(d, "desk-open", desk_secrets)
    finally:
        d.quit()

    d = browser()
    try:
        d.set_page_load_timeout(20)
        # the token URL: a cookie, then the notices page, the token gone
        d.get(a.url)
        check(d.current_url.rstrip("/") == base, "the token leaves the address bar")
        check("Notices" in d.title, "the notices page opens")
        notes = d.find_elements(By.CSS_SELECTOR, "article.notice")
        own = [n for n in notes if a.own_value in n.text and a.own_case in n.text]
        check(len(own) >= 1, "a notice shows the agency's own raw value and case")
        check("&lt;script&gt;alert(1)" in d.page_source and
              not d.find_elements(By.TAG_NAME, "script"),
              "the partner's <script> is shown as text, not run")
        page_ok(d, "notices")

        # filters, by keyboard: a case it does not hold, then its own
        focus_and_type(d, "case", "NO-SUCH-CASE")
        check("No notice matches" in d.page_source, "case filter: another case, no notice")
        page_ok(d, "notices-filtered-empty")
        focus_and_type(d, "case", a.own_case)
        check(a.own_value in d.page_source and "case=" + a.own_case in d.current_url,
              "case filter: its own case, the notice")
        kind = d.find_element(By.ID, "kind")
        kind.send_keys("query")  # a select takes typed letters: query_hit
        kind.send_keys(Keys.ENTER)
        d.find_element(By.ID, "since").send_keys(Keys.ENTER)
        check("kind=query_hit" in d.current_url and "No notice matches" in d.page_source,
              "kind filter: query_hit drops the conflict")
        page_ok(d, "notices-filtered")

        # the navigation, by keyboard: focus the link, Enter
        link = d.find_element(By.LINK_TEXT, "Receipts and refusals")
        d.execute_script("arguments[0].focus()", link)
        d.switch_to.active_element.send_keys(Keys.ENTER)
        check(d.current_url.endswith("/status") and a.own_case in d.page_source,
              "the receipts page lists the agency's case")
        page_ok(d, "status")

        link = d.find_element(By.LINK_TEXT, "Lookup")
        d.execute_script("arguments[0].focus()", link)
        d.switch_to.active_element.send_keys(Keys.ENTER)
        check(d.current_url.endswith("/lookup"), "the lookup page opens")
        check(d.switch_to.active_element.get_attribute("id") == "value",
              "the value field has the focus")
        page_ok(d, "lookup")
        # back to the type (Shift+Tab), choose it by typing, on to the value
        d.switch_to.active_element.send_keys(Keys.SHIFT, Keys.TAB)
        check(d.switch_to.active_element.get_attribute("id") == "type",
              "Shift+Tab reaches the type")
        d.switch_to.active_element.send_keys("email")
        d.switch_to.active_element.send_keys(Keys.TAB)
        el = d.switch_to.active_element
        check(el.get_attribute("id") == "value", "Tab goes back to the value")
        el.send_keys(a.own_value.upper())  # another spelling: canonicalized
        el.send_keys(Keys.ENTER)
        src = page_ok(d, "lookup-result")
        check(d.current_url.endswith("/lookup") and "?" not in d.current_url,
              "the looked-up value is not in the URL")
        check(a.own_case in src and "What the federation told you" in src and
              len(d.find_elements(By.CSS_SELECTOR, "article.notice")) >= 1,
              "the lookup finds the case and the notice")

        # acknowledge, by keyboard: Tab to the notice's outcome, choose it
        # by typing, Tab to its button, Enter
        d.get(base + "/?unacked=1")
        check(d.find_element(By.ID, "unacked").is_selected(),
              "the unacknowledged filter is ticked")
        own = [n for n in d.find_elements(By.CSS_SELECTOR, "article.notice")
               if a.own_value in n.text]
        check(len(own) == 1, "the unacknowledged list holds the notice")
        nid = own[0].get_attribute("id")[2:]
        check("not acknowledged" in own[0].find_element(By.CSS_SELECTOR, "dd.ack").text,
              "the notice says it is not acknowledged")
        page_ok(d, "notices-unacked")
        d.find_element(By.TAG_NAME, "body").click()
        for _ in range(80):
            d.switch_to.active_element.send_keys(Keys.TAB)
            if d.switch_to.active_element.get_attribute("id") == "o-" + nid:
                break
        el = d.switch_to.active_element
        check(el.get_attribute("id") == "o-" + nid, "reached the outcome by keyboard")
        el.send_keys("counterpart")  # a select takes typed letters
        el.send_keys(Keys.TAB)
        el = d.switch_to.active_element
        check(el.tag_name == "button" and el.text == "Acknowledge",
              "Tab reaches the Acknowledge button")
        el.send_keys(Keys.ENTER)
        src = page_ok(d, "ack-result")
        check(d.current_url.endswith("/ack"), "the acknowledgment was posted")
        check("Accepted: the federation recorded counterpart_contacted" in src,
              "the answer page says the federation accepted it")
        d.get(base + "/?unacked=1")
        check(a.own_value not in d.page_source and nid not in d.page_source,
              "the notice left the unacknowledged list")
        d.get(base + "/")
        check(d.find_element(By.CSS_SELECTOR, "#n-%s dd.ack" % nid).text ==
              "counterpart_contacted", "the notices page shows the outcome")
        page_ok(d, "notices-acked")
        nid_acked = nid
    finally:
        d.quit()

    # the watch desk: A's side is off the list, B's is still open, and the
    # outcome is counted
    d = browser()
    try:
        d.set_page_load_timeout(20)
        desk_until(d, "after the acknowledgment only the counterpart's side is open",
                   lambda d: desk_rows(d) == [("agency-b", "agency-a")])
        check("counterpart_contacted" in d.find_element(By.TAG_NAME, "body").text,
              "watch desk: the outcome is counted")
        page_ok(d, "desk-after-ack", desk_secrets)
    finally:
        d.quit()

    # the counterpart's console: its own notice and value, and what this
    # agency recorded; none of this agency's raw values
    d = browser()
    try:
        d.set_page_load_timeout(20)
        d.get(a.counterpart_url)
        end = time.time() + 40
        while True:
            told = [n for n in d.find_elements(By.CSS_SELECTOR, "article.notice")
                    if "They recorded" in n.text]
            if told or time.time() > end:
                break
            time.sleep(1)
            d.get(a.counterpart_url.split("/login")[0] + "/")
        check(len(told) == 1, "the counterpart's console shows one acknowledgment")
        if told:
            check(told[0].find_element(By.CSS_SELECTOR, "dd.outcome").text ==
                  "counterpart_contacted" and a.counterpart_case in told[0].text and
                  a.counterpart_value in told[0].text,
                  "it says what was recorded, on the counterpart's own case and value")
            check(nid_acked not in d.page_source,
                  "the counterpart never sees this agency's notice id")
        page_ok(d, "counterpart-notices", [a.own_value, a.own_value_2])
    finally:
        d.quit()

    # a browser without the token
    d = browser()
    try:
        d.get(base + "/")
        check("forbidden" in d.page_source and a.own_value not in d.page_source,
              "without the token: forbidden, nothing shown")
        page_ok(d, "no-token")
    finally:
        d.quit()

    if failures:
        print("%d check(s) failed" % len(failures))
        return 1
    print("all browser checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
