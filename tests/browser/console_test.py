#!/usr/bin/python3
"""The web console in a real browser: headless Chromium driven by Selenium against the
daemons tests/console_browser_test.c started (Postgres, the five daemons, the SMTP sink).

Every flow runs in one browser session (one Chromium start: the slow part), each person
signing in and out in turn. After every page load the page is checked (check_page):
- no request went to another origin (the Performance API's resource entries, and no
  src/href of a loaded asset pointing elsewhere);
- every form posting anything carries a token field (csrf_token or form_token);
- the accessibility check of a11y.py (docs/console.md says what it checks);
then a screenshot is saved under USHER_SCREENSHOTS.

Waits are on conditions (a page's heading, an email in the sink), never fixed sleeps.
Environment: USHER_CONSOLE_URL, USHER_SINK_DIR, USHER_ACCOUNT_ID, USHER_PASSWORD,
USHER_SCREENSHOTS. Exit status 0 when every flow passed.
"""
import email
import email.policy
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.parse

from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import a11y  # noqa: E402

BASE = os.environ["USHER_CONSOLE_URL"].rstrip("/")
SINK = os.environ["USHER_SINK_DIR"]
ACCOUNT = os.environ["USHER_ACCOUNT_ID"]
PASSWORD = os.environ["USHER_PASSWORD"]
SHOTS = os.environ.get("USHER_SCREENSHOTS", tempfile.mkdtemp(prefix="console-shots-"))
DEADLINE_S = 60  # generous: the machine may be busy

OWNER = "owner@acme.example"
ADMIN = "adam@acme.example"
EXISTING = "erin@acme.example"


class Failure(AssertionError):
    pass


def wait_for(what, condition, timeout=DEADLINE_S):
    """Polls condition until it returns something true; fails naming what."""
    end = time.monotonic() + timeout
    last = None
    while True:
        try:
            got = condition()
            if got:
                return got
        except WebDriverException as e:  # the page is being replaced
            last = e
        if time.monotonic() > end:
            raise Failure("timed out waiting for %s%s" % (what, " (%s)" % last if last else ""))
        time.sleep(0.05)


# --- the SMTP sink's mail ---

def mails_to(rcpt):
    """The messages the sink accepted for rcpt, oldest first, as email.message objects."""
    out = []
    for path in sorted(glob.glob(os.path.join(SINK, "*.eml"))):
        raw = open(path, "rb").read()
        head, _, data = raw.partition(b"\r\n\r\n")
        if ("RCPT TO:<%s>" % rcpt).encode() in head:
            out.append(email.message_from_bytes(data, policy=email.policy.default))
    return out


def text_of(msg):
    part = msg.get_body(preferencelist=("plain",))
    return part.get_content() if part is not None else ""


def wait_link(rcpt, kind, nth=0):
    """The path (/<kind>/<token>) of the link in the nth mail to rcpt holding one."""
    pattern = re.compile(r"https?://[^/\s]+(/%s/[A-Za-z0-9_-]+)" % re.escape(kind))

    def found():
        links = [m.group(1) for m in (pattern.search(text_of(x)) for x in mails_to(rcpt)) if m]
        return links[nth] if len(links) > nth else None
    return wait_for("mail %d to %s with a /%s/ link" % (nth, rcpt, kind), found)


# --- the browser ---

def start_browser(download_dir):
    opts = webdriver.ChromeOptions()
    opts.binary_location = "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1100,900", "--no-first-run", "--disable-extensions",
                "--disable-background-networking", "--disable-sync", "--disable-default-apps"):
        opts.add_argument(arg)
    opts.add_experimental_option("prefs", {"download.default_directory": download_dir,
                                           "download.prompt_for_download": False})
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
    driver.execute_cdp_cmd("Page.setDownloadBehavior",
                           {"behavior": "allow", "downloadPath": download_dir})
    return driver


class Console:
    def __init__(self, driver):
        self.d = driver
        self.shots = 0
        self.checked = 0
        self.tabbed = set()

    # navigation and checks

    def url_path(self):
        return urllib.parse.urlsplit(self.d.current_url).path

    def heading(self):
        found = self.d.find_elements(By.TAG_NAME, "h1")
        return found[0].text if found else ""

    def wait_heading(self, text):
        wait_for("a page headed %r (at %s)" % (text, self.d.current_url),
                 lambda: text in self.heading())
        self.check_page(text)

    def open(self, path, heading):
        self.d.get(BASE + path)
        self.wait_heading(heading)

    def check_page(self, name):
        """The checks every page passes, then a screenshot."""
        d = self.d
        origin = urllib.parse.urlsplit(BASE)
        origin = (origin.scheme, origin.netloc)
        entries = d.execute_script(
            "return performance.getEntriesByType('resource').map(e => e.name)"
            ".concat(performance.getEntriesByType('navigation').map(e => e.name))")
        for url in entries:
            parts = urllib.parse.urlsplit(url)
            if (parts.scheme, parts.netloc) != origin:
                raise Failure("%s: a request went to another origin: %s" % (name, url))
        html = d.page_source
        for m in re.finditer(r"<(?:img|script|link|iframe|source|video|audio)\b[^>]*>", html, re.I):
            for attr in re.finditer(r"\b(?:src|href)=\"([^\"]+)\"", m.group(0)):
                parts = urllib.parse.urlsplit(attr.group(1))
                if parts.netloc and (parts.scheme, parts.netloc) != origin:
                    raise Failure("%s: an asset from another origin: %s" % (name, m.group(0)))
        for form in re.finditer(r"<form\b([^>]*)>(.*?)</form>", html, re.S | re.I):
            if not re.search(r"method=\"?post", form.group(1), re.I):
                continue
            if not re.search(r"<input[^>]*type=\"hidden\"[^>]*name=\"(csrf_token|form_token)\""
                             r"[^>]*value=\"[A-Za-z0-9_-]{20,}\"", form.group(2)):
                raise Failure("%s: a form (%s) has no CSRF token field" % (name, form.group(1)))
        problems = a11y.check(html)
        if problems:
            raise Failure("%s: accessibility: %s" % (name, "; ".join(problems)))
        # Tabbing is slow (a round trip a key): once for each kind of page.
        if name not in self.tabbed:
            self.tabbed.add(name)
            problems = a11y.check_focus_order(d)
            if problems:
                raise Failure("%s: focus order: %s" % (name, "; ".join(problems)))
        self.checked += 1
        self.shots += 1
        slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
        d.save_screenshot(os.path.join(SHOTS, "%02d-%s.png" % (self.shots, slug)))

    # forms

    def fill(self, field_id, value):
        el = self.d.find_element(By.ID, field_id)
        el.clear()
        el.send_keys(value)

    def press(self, label):
        """Clicks the button whose text is label."""
        buttons = [b for b in self.d.find_elements(By.TAG_NAME, "button") if b.text.strip() == label]
        if not buttons:
            raise Failure("no button %r on %s" % (label, self.d.current_url))
        old = self.d.find_element(By.TAG_NAME, "html")
        buttons[0].click()
        # The click posts a form: wait for the page it leads to.
        wait_for("the page after pressing %r" % label, lambda: is_stale(old))

    def flash(self):
        found = self.d.find_elements(By.CSS_SELECTOR, ".flash")
        return found[0].text if found else ""

    def sign_in(self, who, password=PASSWORD):
        self.d.delete_all_cookies()
        self.open("/signin", "Sign in")
        self.fill("email", who)
        self.fill("password", password)
        self.press("Sign in")
        self.wait_heading("My accounts")

    def sign_out(self):
        self.press("Sign out")
        self.wait_heading("Sign in")
        assert "signed out" in self.flash(), self.flash()

    def table_text(self):
        return " | ".join(t.text for t in self.d.find_elements(By.TAG_NAME, "table"))


def is_stale(element):
    try:
        element.tag_name
        return False
    except WebDriverException:
        return True


# --- the flows, in order: each leaves nobody signed in ---

def flow_sign_in_and_my_accounts(c):
    c.d.delete_all_cookies()
    c.d.get(BASE + "/")
    c.wait_heading("Sign in")  # / sends a stranger to sign in
    c.fill("email", OWNER)
    c.fill("password", "not the password")
    c.press("Sign in")
    c.wait_heading("Sign in")
    assert "do not match" in c.flash(), c.flash()
    c.sign_in(OWNER)
    assert "Acme Team" in c.table_text()
    assert "Owner" in c.table_text()
    c.sign_out()


def flow_typed_invite_new_user_signs_up(c):
    c.sign_in(OWNER)
    c.open("/a/%s/invite" % ACCOUNT, "Invite people")
    c.fill("emails", "nina.new@example.com;\n%s, not-an-address" % EXISTING)
    Select(c.d.find_element(By.ID, "role")).select_by_value("member")
    c.press("Send invitations")
    c.wait_heading("Invitations: 2 sent, 1 not sent")
    rows = c.table_text()
    assert "nina.new@example.com" in rows and "created" in rows and "invalid" in rows, rows
    c.sign_out()
    path = wait_link("nina.new@example.com", "i")
    c.open(path, "Join Acme Team")
    c.d.find_element(By.NAME, "name").send_keys("Nina New")
    c.d.find_element(By.NAME, "password").send_keys("nina's long password")
    c.press("Accept and create my account")
    c.wait_heading("My accounts")  # signed in, landed on My accounts
    assert "Acme Team" in c.table_text(), c.table_text()
    assert "accepted" in c.flash(), c.flash()
    c.sign_out()
    c.sign_in(OWNER)
    c.open("/a/%s/users" % ACCOUNT, "Users")
    rows = c.table_text()
    assert "Nina New" in rows and "nina.new@example.com" in rows, rows
    c.sign_out()


def flow_existing_user_answers_from_my_accounts(c):
    # The email names My accounts; there both invitations wait.
    mail = wait_link(EXISTING, "i")
    assert "My accounts" in text_of(mails_to(EXISTING)[-1]), mail
    c.sign_in(EXISTING)
    invitations = c.table_text()
    assert "Acme Team" in invitations and "Bolt Co" in invitations, invitations
    c.press("Decline Bolt Co")
    c.wait_heading("My accounts")
    assert "declined" in c.flash(), c.flash()
    c.press("Accept Acme Team")
    c.wait_heading("My accounts")
    assert "accepted" in c.flash(), c.flash()
    assert "No invitations are waiting" in c.d.page_source
    membership = c.d.find_element(By.LINK_TEXT, "Acme Team")  # the account, linked
    assert "Bolt Co" not in c.table_text()
    membership.click()
    c.wait_heading("Users")
    c.sign_out()


def flow_resend_kills_old_link_then_remove(c):
    who = "resend.me@example.com"
    c.sign_in(OWNER)
    c.open("/a/%s/invite" % ACCOUNT, "Invite people")
    c.fill("emails", who)
    c.press("Send invitations")
    c.wait_heading("Invitations: 1 sent")
    first = wait_link(who, "i", 0)
    c.open("/a/%s/pending" % ACCOUNT, "Pending invitations")
    assert who in c.table_text()
    c.press("Resend to %s" % who)
    c.wait_heading("Pending invitations")
    assert "no longer works" in c.flash(), c.flash()
    second = wait_link(who, "i", 1)
    assert first != second
    c.open(first, "Invitation not found")  # the old link is dead
    c.open(second, "Join Acme Team")      # the new one works
    c.open("/a/%s/pending" % ACCOUNT, "Pending invitations")
    c.press("Remove %s" % who)
    c.wait_heading("Pending invitations")
    assert who not in c.table_text()
    c.open(second, "This invitation is closed")
    c.open("/accounts", "My accounts")
    c.sign_out()


def flow_csv_upload_dry_run_report_download(c, download_dir):
    c.sign_in(OWNER)
    csv_path = os.path.join(download_dir, "people.csv")
    # No header row: the first address must not be taken as one.
    with open(csv_path, "w") as f:
        f.write("csv.one@example.com\ncsv.two@example.com\nnot an address\n")
    c.open("/a/%s/upload" % ACCOUNT, "Upload a CSV")
    c.d.find_element(By.ID, "file").send_keys(csv_path)
    c.d.find_element(By.ID, "dry_run").click()
    c.press("Upload")
    c.wait_heading("dry run, 2 would be sent, 1 not")
    rows = c.table_text()
    assert "csv.one@example.com" in rows and "csv.two@example.com" in rows, rows
    first_row = c.d.find_elements(By.CSS_SELECTOR, "tbody tr")[0].text
    assert first_row.startswith("1 csv.one@example.com"), first_row
    assert mails_to("csv.one@example.com") == []  # a dry run sends nothing
    # For real, the report downloaded as CSV.
    c.open("/a/%s/upload" % ACCOUNT, "Upload a CSV")
    c.d.find_element(By.ID, "file").send_keys(csv_path)
    Select(c.d.find_element(By.ID, "format")).select_by_value("csv")
    # A download: the page stays, so the button is clicked without waiting for a new one.
    [b for b in c.d.find_elements(By.TAG_NAME, "button") if b.text == "Upload"][0].click()
    report = os.path.join(download_dir, "invitation-report.csv")
    wait_for("the downloaded report", lambda: os.path.exists(report) and
             "csv.two@example.com" in open(report).read())
    text = open(report).read()
    assert '\n1,"csv.one@example.com","created"' in text, text
    wait_link("csv.one@example.com", "i")
    c.open("/accounts", "My accounts")
    c.sign_out()


def flow_permanent_link(c):
    c.sign_in(OWNER)
    c.open("/a/%s/link" % ACCOUNT, "Permanent invitation link")
    c.fill("max_uses", "5")
    c.fill("domains", "example.org")
    c.press("Enable the link")
    c.wait_heading("Permanent invitation link")
    field = c.d.find_element(By.ID, "link-url")
    assert field.get_attribute("readonly") is not None
    url = field.get_attribute("value")
    assert "/l/" in url, url
    link_path = urllib.parse.urlsplit(url).path
    c.sign_out()
    # A newcomer joins: signs up, confirms the address from the email.
    c.open(link_path, "Join Acme Team")
    assert "example.org" in c.d.page_source
    c.fill("email", "lee.link@example.org")
    c.fill("name", "Lee Link")
    c.fill("password", "lee's long password")
    c.press("Create my account and join")
    c.wait_heading("Check your email")
    confirm = wait_link("lee.link@example.org", "j")
    c.open(confirm, "Finish joining Acme Team")
    c.press("Confirm and join")
    c.wait_heading("Sign in")
    c.fill("email", "lee.link@example.org")
    c.fill("password", "lee's long password")
    c.press("Sign in")
    c.wait_heading("My accounts")
    assert "Acme Team" in c.table_text()
    c.sign_out()
    # Who joined shows; deleting kills the link; enabling again makes a new one.
    c.sign_in(OWNER)
    c.open("/a/%s/link" % ACCOUNT, "Permanent invitation link")
    assert "lee.link@example.org" in c.table_text()
    c.press("Delete the link")
    c.wait_heading("Permanent invitation link")
    assert "deleted" in c.flash(), c.flash()
    c.press("Enable the link")
    c.wait_heading("Permanent invitation link")
    again = c.d.find_element(By.ID, "link-url").get_attribute("value")
    assert again != url
    c.open(link_path, "This link does not work")
    c.open("/accounts", "My accounts")
    c.sign_out()


def flow_roles_and_refused_ceiling(c):
    # The owner makes Nina a moderator, then deactivates and reactivates her.
    c.sign_in(OWNER)
    c.open("/a/%s/users" % ACCOUNT, "Users")
    row = [r for r in c.d.find_elements(By.CSS_SELECTOR, "tbody tr") if "nina.new@example.com" in r.text][0]
    Select(row.find_element(By.TAG_NAME, "select")).select_by_value("moderator")
    c.press("Change role of nina.new@example.com")
    c.wait_heading("Users")
    assert "Role changed" in c.flash(), c.flash()
    row = [r for r in c.d.find_elements(By.CSS_SELECTOR, "tbody tr") if "nina.new@example.com" in r.text][0]
    role = row.find_elements(By.TAG_NAME, "td")[2].text
    assert role == "Moderator", role
    c.press("Deactivate nina.new@example.com")
    c.wait_heading("Users")
    row = [r for r in c.d.find_elements(By.CSS_SELECTOR, "tbody tr") if "nina.new@example.com" in r.text][0]
    status = row.find_elements(By.TAG_NAME, "td")[5].text
    assert status == "Deactivated", status
    c.press("Reactivate nina.new@example.com")
    c.wait_heading("Users")
    # Her products: voice taken away on her own page.
    c.d.find_element(By.LINK_TEXT, "Nina New").click()
    c.wait_heading("Nina New")
    voice = [b for b in c.d.find_elements(By.CSS_SELECTOR, "input[name=products]")
             if b.get_attribute("value") == "voice"][0]
    assert voice.is_selected()
    voice.click()
    c.press("Save scope and products")
    c.wait_heading("Users")
    assert "Scope and products changed" in c.flash(), c.flash()
    row = [r for r in c.d.find_elements(By.CSS_SELECTOR, "tbody tr") if "nina.new@example.com" in r.text][0]
    products = row.find_elements(By.TAG_NAME, "td")[4].text
    assert products == "texting", products
    c.sign_out()
    # An admin may not make anyone an owner: refused, in words, nothing changed.
    c.sign_in(ADMIN)
    c.open("/a/%s/users" % ACCOUNT, "Users")
    row = [r for r in c.d.find_elements(By.CSS_SELECTOR, "tbody tr") if EXISTING in r.text][0]
    Select(row.find_element(By.TAG_NAME, "select")).select_by_value("owner")
    c.press("Change role of %s" % EXISTING)
    c.wait_heading("Users")
    assert c.flash().startswith("Refused:"), c.flash()
    row = [r for r in c.d.find_elements(By.CSS_SELECTOR, "tbody tr") if EXISTING in r.text][0]
    role = row.find_elements(By.TAG_NAME, "td")[2].text
    assert role == "Member", role
    c.sign_out()
    # The owner removes Erin.
    c.sign_in(OWNER)
    c.open("/a/%s/users" % ACCOUNT, "Users")
    c.press("Remove %s" % EXISTING)
    c.wait_heading("Users")
    assert "removed" in c.flash().lower() and EXISTING not in c.table_text()
    c.sign_out()


def flow_password_reset(c):
    c.d.delete_all_cookies()
    c.open("/signin", "Sign in")
    c.d.find_element(By.LINK_TEXT, "Forgot your password?").click()
    c.wait_heading("Reset your password")
    c.fill("email", EXISTING)
    c.press("Send me a link")
    c.wait_heading("Sign in")
    assert "on its way" in c.flash()
    path = wait_link(EXISTING, "password-reset")
    c.open(path, "Choose a new password")
    c.fill("password", "erin's brand new password")
    c.press("Set my password")
    c.wait_heading("Sign in")
    assert "password is set" in c.flash()
    c.sign_in(EXISTING, "erin's brand new password")
    c.sign_out()
    c.open(path, "Choose a new password")  # used: it no longer sets anything
    c.fill("password", "yet another password")
    c.press("Set my password")
    c.wait_heading("Choose a new password")
    assert c.d.find_elements(By.CSS_SELECTOR, ".flash.error")


def flow_profile_and_email_change(c):
    c.sign_in(EXISTING, "erin's brand new password")
    c.open("/profile", "Profile")
    c.fill("name", "Erin Renamed")
    c.fill("phone", "+14155550123")
    c.press("Save name and phone")
    c.wait_heading("Profile")
    assert "Profile saved" in c.flash()
    assert c.d.find_element(By.ID, "name").get_attribute("value") == "Erin Renamed"
    c.fill("new_email", "erin.new@example.com")
    c.fill("email_password", "erin's brand new password")
    c.press("Send a confirmation link")
    c.wait_heading("Profile")
    path = wait_link("erin.new@example.com", "email-change")
    c.open(path, "Confirm your new email address")
    c.press("Confirm my new address")
    c.wait_heading("Email address changed")
    assert "erin.new@example.com" in c.d.page_source
    c.open("/profile", "Profile")
    c.fill("current_password", "erin's brand new password")
    c.fill("new_password", "erin's third password")
    c.press("Change password")
    c.wait_heading("Profile")
    assert "Password changed" in c.flash()
    c.sign_out()
    c.sign_in("erin.new@example.com", "erin's third password")
    c.sign_out()


def flow_settings(c):
    c.sign_in(OWNER)
    c.open("/a/%s/settings" % ACCOUNT, "Account settings")
    c.fill("expiry", "48")
    c.fill("domains", "example.com, example.org")
    c.press("Save settings")
    c.wait_heading("Account settings")
    assert "Saved" in c.flash()
    assert c.d.find_element(By.ID, "expiry").get_attribute("value") == "48"
    c.fill("subaccount", "East")
    c.press("Create subaccount")
    c.wait_heading("Account settings")
    assert "East" in c.d.page_source
    c.open("/a/%s/invite" % ACCOUNT, "Invite people")
    assert "East" in c.d.page_source and "48 hours" in c.d.page_source
    c.open("/accounts", "My accounts")
    c.sign_out()


def row_of(c, text):
    return [r for r in c.d.find_elements(By.CSS_SELECTOR, "tbody tr") if text in r.text][0]


def flow_delivery_settings_and_home_url(c):
    # The owner sets the delivery settings; a malformed home URL is refused.
    home = BASE + "/profile"  # on the gateway itself, so the browser stays on one origin
    c.sign_in(OWNER)
    c.open("/a/%s/settings" % ACCOUNT, "Account settings")
    c.fill("home_url", "javascript:alert(1)")
    c.press("Save delivery settings")
    c.wait_heading("That did not work")
    c.open("/a/%s/settings" % ACCOUNT, "Account settings")
    assert c.d.find_element(By.ID, "home_url").get_attribute("value") == ""
    c.fill("home_url", home)
    c.fill("redirect_urls", BASE + "/\nhttps://app.example.com/welcome")
    c.fill("reminder_delay", "24")
    c.d.find_element(By.NAME, "reminders_off").click()
    c.d.find_element(By.NAME, "notify_inviter_on_expiry").click()
    c.fill("email_locale", "fr")
    c.press("Save delivery settings")
    c.wait_heading("Account settings")
    assert "Saved" in c.flash(), c.flash()
    value = lambda i: c.d.find_element(By.ID, i).get_attribute("value")
    assert value("home_url") == home, value("home_url")
    assert value("redirect_urls").split() == [BASE + "/", "https://app.example.com/welcome"]
    assert value("reminder_delay") == "24" and value("email_locale") == "fr"
    assert c.d.find_element(By.NAME, "reminders_off").is_selected()
    assert c.d.find_element(By.NAME, "notify_inviter_on_expiry").is_selected()
    # Invitations to a newcomer (with a flag) and to Erin, no longer a member.
    c.open("/a/%s/invite" % ACCOUNT, "Invite people")
    c.fill("emails", "hank.home@example.com erin.new@example.com")
    c.fill("flags", "messages.view_body")
    c.press("Send invitations")
    c.wait_heading("Invitations: 2 sent")
    c.sign_out()
    # Accepting from /i/ (signing up, so signed in) goes to the account's home URL.
    c.open(wait_link("hank.home@example.com", "i"), "Join Acme Team")
    c.d.find_element(By.NAME, "name").send_keys("Hank Home")
    c.d.find_element(By.NAME, "password").send_keys("hank's long password")
    c.press("Accept and create my account")
    c.wait_heading("Profile")
    assert c.url_path() == "/profile", c.d.current_url
    assert "hank.home@example.com" in c.d.page_source
    c.sign_out()
    # So does accepting from My accounts.
    c.sign_in("erin.new@example.com", "erin's third password")
    c.press("Accept Acme Team")
    c.wait_heading("Profile")
    assert c.url_path() == "/profile", c.d.current_url
    c.sign_out()
    # Hank's flag came with the invitation.
    c.sign_in(OWNER)
    c.open("/a/%s/users" % ACCOUNT, "Users")
    c.d.find_element(By.LINK_TEXT, "Hank Home").click()
    c.wait_heading("Hank Home")
    assert c.d.find_element(By.ID, "flags").get_attribute("value") == "messages.view_body"
    c.open("/accounts", "My accounts")
    c.sign_out()


def flow_flags(c):
    # The owner moves Lee into the East subaccount and gives Nina a flag.
    c.sign_in(OWNER)
    c.open("/a/%s/users" % ACCOUNT, "Users")
    c.d.find_element(By.LINK_TEXT, "Lee Link").click()
    c.wait_heading("Lee Link")
    c.d.find_element(By.ID, "scope-subs").click()
    for box in c.d.find_elements(By.CSS_SELECTOR, "input[name=subaccount]"):
        label = c.d.find_element(By.CSS_SELECTOR, "label[for='%s']" % box.get_attribute("id"))
        if label.text == "East":
            box.click()
    c.press("Save scope and products")
    c.wait_heading("Users")
    assert "Subaccounts" in row_of(c, "lee.link@example.org").text
    c.d.find_element(By.LINK_TEXT, "Nina New").click()
    c.wait_heading("Nina New")
    c.fill("flags", "messages.view_body, export")
    c.press("Save flags")
    c.wait_heading("Users")
    assert "Flags changed" in c.flash(), c.flash()
    c.d.find_element(By.LINK_TEXT, "Nina New").click()
    c.wait_heading("Nina New")
    assert c.d.find_element(By.ID, "flags").get_attribute("value") == "messages.view_body, export"
    c.sign_out()
    # The admin holds no flag: giving one is refused, in words, and nothing changes.
    c.sign_in(ADMIN)
    c.open("/a/%s/users" % ACCOUNT, "Users")
    c.d.find_element(By.LINK_TEXT, "Lee Link").click()
    c.wait_heading("Lee Link")
    c.fill("flags", "export")
    c.press("Save flags")
    c.wait_heading("Users")
    assert c.flash().startswith("Refused:") and 'cannot grant flag "export"' in c.flash(), c.flash()
    c.d.find_element(By.LINK_TEXT, "Lee Link").click()
    c.wait_heading("Lee Link")
    assert c.d.find_element(By.ID, "flags").get_attribute("value") == ""
    # Nor may the admin invite with it.
    c.open("/a/%s/invite" % ACCOUNT, "Invite people")
    c.fill("emails", "flagged.invite@example.com")
    c.d.find_element(By.ID, "scope-subs").click()
    for box in c.d.find_elements(By.CSS_SELECTOR, "input[name=subaccount]"):
        label = c.d.find_element(By.CSS_SELECTOR, "label[for='%s']" % box.get_attribute("id"))
        if label.text == "East":
            box.click()
    for box in c.d.find_elements(By.CSS_SELECTOR, "input[name=products]"):
        if box.is_selected():  # the admin holds no product
            box.click()
    c.fill("flags", "export")
    c.press("Send invitations")
    c.wait_heading("That did not work")
    assert 'cannot grant flag "export"' in c.d.page_source, c.d.page_source
    c.open("/accounts", "My accounts")
    c.sign_out()


def flow_verify_email(c):
    # A newcomer joins through the permanent link and signs in before confirming: their
    # address is unverified, and Profile offers to verify it.
    c.sign_in(OWNER)
    c.open("/a/%s/link" % ACCOUNT, "Permanent invitation link")
    link_path = urllib.parse.urlsplit(c.d.find_element(By.ID, "link-url").get_attribute("value")).path
    c.sign_out()
    who = "vera.verify@example.org"
    c.open(link_path, "Join Acme Team")
    c.fill("email", who)
    c.fill("name", "Vera Verify")
    c.fill("password", "vera's long password")
    c.press("Create my account and join")
    c.wait_heading("Check your email")
    c.sign_in(who, "vera's long password")
    c.open("/profile", "Profile")
    assert "not verified" in c.d.page_source
    c.press("Send me a verification link")
    c.wait_heading("Profile")
    assert "verify your address" in c.flash(), c.flash()
    path = wait_link(who, "verify-email")
    c.open(path, "Verify your email address")  # opening it changes nothing
    c.open("/profile", "Profile")
    assert "not verified" in c.d.page_source
    c.open(path, "Verify your email address")
    c.press("Verify my address")
    c.wait_heading("Email address verified")
    c.open("/profile", "Profile")
    assert "not verified" not in c.d.page_source
    c.open(path, "Verify your email address")  # used: it verifies nothing more
    c.press("Verify my address")
    c.wait_heading("That did not work")
    c.open("/accounts", "My accounts")
    c.sign_out()


def start_receiver():
    """tests/support/webhook_receiver.py on a free loopback port: (process, url, log)."""
    d = tempfile.mkdtemp(prefix="console-hooks-")
    log, port_file = os.path.join(d, "hooks.jsonl"), os.path.join(d, "port")
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support",
                          "webhook_receiver.py")
    proc = subprocess.Popen([sys.executable, script, "serve", "--port-file", port_file,
                             "--log", log, "--codes", ""])
    wait_for("the webhook receiver to listen", lambda: os.path.exists(port_file))
    with open(port_file) as f:
        port = int(f.read())
    return proc, "http://127.0.0.1:%d/hooks" % port, log


def received(log, event_type):
    """The requests the receiver got for events of event_type."""
    if not os.path.exists(log):
        return []
    with open(log) as f:
        reqs = [json.loads(line) for line in f if line.strip()]
    return [r for r in reqs if json.loads(r["body"]).get("type") == event_type]


def flow_webhooks(c):
    proc, url, log = start_receiver()
    try:
        # A moderator (below admin) has no Webhooks link, and the page refuses them.
        c.sign_in("nina.new@example.com", "nina's long password")
        c.d.get(BASE + "/a/%s/webhooks" % ACCOUNT)
        c.wait_heading("That did not work")
        assert "may not manage" in c.d.page_source, c.d.page_source
        assert c.d.find_elements(By.CSS_SELECTOR, "nav.account a[href$='/settings']")
        assert not c.d.find_elements(By.CSS_SELECTOR, "nav.account a[href$='/webhooks']")
        c.open("/accounts", "My accounts")
        c.sign_out()
        # The admin adds an endpoint: its secret is shown once, read-only.
        c.sign_in(ADMIN)
        c.open("/a/%s/users" % ACCOUNT, "Users")
        c.d.find_element(By.CSS_SELECTOR, "nav.account a[href$='/webhooks']").click()
        c.wait_heading("Webhooks")
        c.fill("webhook-url", url)
        c.fill("webhook-types", "invitation.created")
        c.press("Add the endpoint")
        c.wait_heading("Webhooks")
        field = c.d.find_element(By.ID, "webhook-secret")
        assert field.get_attribute("readonly") is not None
        secret = field.get_attribute("value")
        assert secret.startswith("whsec_"), secret
        row = row_of(c, url)
        assert "invitation.created" in row.text and "Enabled" in row.text, row.text
        c.open("/a/%s/webhooks" % ACCOUNT, "Webhooks")  # shown once: not on the page again
        assert secret not in c.d.page_source
        c.open("/accounts", "My accounts")
        c.sign_out()
        # The owner invites (admins may not at organization level): an event, which
        # reaches the receiver and shows in the log.
        c.sign_in(OWNER)
        c.open("/a/%s/invite" % ACCOUNT, "Invite people")
        c.fill("emails", "wes.webhook@example.com")
        Select(c.d.find_element(By.ID, "role")).select_by_value("member")
        c.press("Send invitations")
        c.wait_heading("Invitations: 1 sent, 0 not sent")
        wait_for("the webhook delivery", lambda: len(received(log, "invitation.created")) == 1)
        c.open("/a/%s/webhooks" % ACCOUNT, "Webhooks")
        c.d.find_element(By.LINK_TEXT, "Delivery log of %s" % url).click()
        c.wait_heading("Delivery log")
        log_path = c.url_path()

        def succeeded():
            c.d.get(BASE + log_path)
            text = c.table_text()
            return "Succeeded" in text and "200" in text

        wait_for("the delivery marked succeeded in the log", succeeded)
        c.wait_heading("Delivery log")
        redeliver = [b.text for b in c.d.find_elements(By.TAG_NAME, "button")
                     if b.text.startswith("Redeliver invitation.created")]
        assert len(redeliver) == 1, redeliver
        c.press(redeliver[0])
        c.wait_heading("Delivery log")
        assert "Sent again" in c.flash(), c.flash()
        wait_for("the redelivery", lambda: len(received(log, "invitation.created")) == 2)
        ids = {r["headers"]["webhook-id"] for r in received(log, "invitation.created")}
        assert len(ids) == 1, ids  # the same event again
        # Disable, enable, rotate the secret (shown once), delete.
        c.open("/a/%s/webhooks" % ACCOUNT, "Webhooks")
        c.press("Disable %s" % url)
        c.wait_heading("Webhooks")
        assert "disabled" in c.flash(), c.flash()
        assert "Disabled: disabled by hand" in row_of(c, url).text, row_of(c, url).text
        c.press("Enable %s" % url)
        c.wait_heading("Webhooks")
        assert "Enabled" in row_of(c, url).text
        c.press("Rotate the secret of %s" % url)
        c.wait_heading("Webhooks")
        rotated = c.d.find_element(By.ID, "webhook-secret").get_attribute("value")
        assert rotated.startswith("whsec_") and rotated != secret, rotated
        c.press("Delete %s" % url)
        c.wait_heading("Webhooks")
        assert "deleted" in c.flash() and "No endpoints yet." in c.d.page_source
        c.open("/accounts", "My accounts")
        c.sign_out()
    finally:
        proc.kill()
        proc.wait()


def main():
    os.makedirs(SHOTS, exist_ok=True)
    for old in glob.glob(os.path.join(SHOTS, "*.png")):  # this run's pictures only
        os.remove(old)
    download_dir = tempfile.mkdtemp(prefix="console-downloads-")
    started = time.monotonic()
    driver = start_browser(download_dir)
    c = Console(driver)
    flows = [
        ("sign in, My accounts", lambda: flow_sign_in_and_my_accounts(c)),
        ("typed invite, new user signs up", lambda: flow_typed_invite_new_user_signs_up(c)),
        ("existing user, My accounts", lambda: flow_existing_user_answers_from_my_accounts(c)),
        ("resend kills the old link, remove", lambda: flow_resend_kills_old_link_then_remove(c)),
        ("CSV upload", lambda: flow_csv_upload_dry_run_report_download(c, download_dir)),
        ("permanent link", lambda: flow_permanent_link(c)),
        ("roles, refused ceiling, remove", lambda: flow_roles_and_refused_ceiling(c)),
        ("password reset", lambda: flow_password_reset(c)),
        ("profile, email change", lambda: flow_profile_and_email_change(c)),
        ("settings", lambda: flow_settings(c)),
        ("delivery settings, home URL", lambda: flow_delivery_settings_and_home_url(c)),
        ("flags", lambda: flow_flags(c)),
        ("verify email", lambda: flow_verify_email(c)),
        ("webhooks", lambda: flow_webhooks(c)),
    ]
    failed = 0
    try:
        for name, run in flows:
            t = time.monotonic()
            try:
                run()
                print("ok   %-40s %5.1f s" % (name, time.monotonic() - t), flush=True)
            except Exception:
                failed += 1
                print("FAIL %s at %s" % (name, driver.current_url), flush=True)
                traceback.print_exc()
                driver.save_screenshot(os.path.join(SHOTS, "failed-%s.png" % re.sub(r"\W+", "-", name)))
                break  # later flows build on earlier ones
    finally:
        driver.quit()
        shutil.rmtree(download_dir, ignore_errors=True)
    print("%d pages checked, %d flows failed, %.1f s; screenshots in %s"
          % (c.checked, failed, time.monotonic() - started, SHOTS), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
