"""The accessibility check every console page passes in the browser tests (docs/console.md).

check(html) reads the page's HTML (html.parser, no browser needed) and returns a list of
problems, empty when it passes:
  1. <html> has a non-empty lang attribute;
  2. <title> is there and not empty;
  3. exactly one <h1>, and heading levels never skip one going down (h2 then h4);
  4. every form control a person fills in (input other than hidden/submit/button/reset/
     image, select, textarea) has a name for assistive technology: a <label for=its id>,
     a <label> around it, aria-label or aria-labelledby naming an existing id;
  5. every <button> and <a href> has text (or aria-label);
  6. every <img> has an alt attribute;
  7. ids are unique, and aria-describedby/aria-labelledby name ids that exist;
  8. every <table> has header cells (<th>);
  9. no positive tabindex (it takes the focus out of reading order);
 10. <meta name=viewport> is there (readable on a phone).

check_focus_order(driver) presses Tab through the page in the real browser and checks that
focus visits the focusable elements (links, buttons, fields) in document order, from the
first (the first twelve, to keep the run short): what a keyboard user meets.
"""
from html.parser import HTMLParser

from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

FILLABLE_SKIP = {"hidden", "submit", "button", "reset", "image"}
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr"}


class _Page(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.problems = []
        self.lang = None
        self.title = None
        self.in_title = False
        self.h1 = 0
        self.last_level = 0
        self.ids = {}
        self.label_for = set()
        self.open_labels = 0
        self.controls = []   # (description, id, labelled)
        self.refs = []       # ids named by aria-*
        self.text_needed = []  # [tag, attrs, text] of buttons and links being read
        self.tables = 0
        self.th = 0
        self.viewport = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            self.ids[a["id"]] = self.ids.get(a["id"], 0) + 1
        for ref in ("aria-describedby", "aria-labelledby"):
            if a.get(ref):
                self.refs.extend(a[ref].split())
        if tag == "html":
            self.lang = a.get("lang")
        elif tag == "title":
            self.in_title = True
            self.title = ""
        elif tag == "meta" and a.get("name") == "viewport":
            self.viewport = True
        elif len(tag) == 2 and tag[0] == "h" and tag[1] in "123456":
            level = int(tag[1])
            self.h1 += level == 1
            if self.last_level and level > self.last_level + 1:
                self.problems.append("heading h%d follows h%d (a level skipped)"
                                     % (level, self.last_level))
            if not self.last_level and level != 1:
                self.problems.append("the first heading is h%d, not h1" % level)
            self.last_level = level
        elif tag == "label":
            self.open_labels += 1
            if a.get("for"):
                self.label_for.add(a["for"])
        elif tag in ("input", "select", "textarea"):
            kind = (a.get("type") or "text").lower() if tag == "input" else tag
            if kind not in FILLABLE_SKIP:
                named = self.open_labels > 0 or bool(a.get("aria-label")) or bool(a.get("aria-labelledby"))
                self.controls.append(("%s name=%s" % (tag, a.get("name")), a.get("id"), named))
        elif tag == "img":
            if "alt" not in a:
                self.problems.append("an image without alt: %s" % a.get("src"))
        elif tag == "table":
            self.tables += 1
        elif tag == "th":
            self.th += 1
        if "tabindex" in a:
            try:
                if int(a["tabindex"]) > 0:
                    self.problems.append("a positive tabindex on <%s>" % tag)
            except ValueError:
                self.problems.append("a malformed tabindex on <%s>" % tag)
        if tag == "button" or (tag == "a" and "href" in a):
            self.text_needed.append([tag, a, ""])

    def handle_endtag(self, tag):
        if tag == "title":
            self.in_title = False
        elif tag == "label":
            self.open_labels = max(0, self.open_labels - 1)
        elif tag in ("button", "a") and self.text_needed and self.text_needed[-1][0] == tag:
            t, a, text = self.text_needed.pop()
            if not text.strip() and not a.get("aria-label"):
                self.problems.append("a <%s> without text (%s)" % (t, a.get("href") or a.get("name")))

    def handle_data(self, data):
        if self.in_title:
            self.title += data
        for item in self.text_needed:
            item[2] += data

    def finish(self):
        p = self.problems
        if not self.lang:
            p.append("<html> has no lang")
        if not (self.title or "").strip():
            p.append("no <title>")
        if self.h1 != 1:
            p.append("%d <h1> headings, not one" % self.h1)
        if not self.viewport:
            p.append("no viewport meta")
        for desc, id_, named in self.controls:
            if not named and not (id_ and id_ in self.label_for):
                p.append("a %s without a label" % desc)
        for id_, n in self.ids.items():
            if n > 1:
                p.append("id %r used %d times" % (id_, n))
        for ref in self.refs:
            if ref not in self.ids:
                p.append("aria names a missing id %r" % ref)
        if self.tables and self.th < self.tables:
            p.append("a table without header cells")
        return p


def check(html):
    page = _Page()
    page.feed(html)
    page.close()
    return page.finish()


FOCUSABLE = "a[href], button, input:not([type=hidden]), select, textarea"


def check_focus_order(driver, limit=12):
    """Tabs through a freshly loaded page (nothing focused yet): focus must meet the first
    limit focusable elements in document order."""
    expected, groups = [], set()
    for e in driver.find_elements(By.CSS_SELECTOR, FOCUSABLE):
        if not e.is_displayed():
            continue
        if e.get_attribute("type") == "radio":
            # A radio group is one Tab stop: its checked radio (or its first).
            name = e.get_attribute("name")
            checked = driver.find_elements(By.CSS_SELECTOR, "input[type=radio][name='%s']:checked" % name)
            if name in groups or (checked and checked[0].id != e.id):
                continue
            groups.add(name)
        expected.append(e)
    expected = expected[:limit]
    problems = []
    for i, want in enumerate(expected):
        ActionChains(driver).send_keys(Keys.TAB).perform()
        got = driver.switch_to.active_element
        if got.id != want.id:
            problems.append("Tab %d reached <%s> %r, not <%s> %r"
                            % (i + 1, got.tag_name, (got.text or got.get_attribute("name") or "")[:30],
                               want.tag_name, (want.text or want.get_attribute("name") or "")[:30]))
            break
    return problems
