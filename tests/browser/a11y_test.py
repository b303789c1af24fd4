#!/usr/bin/python3
"""The accessibility checker's own test: a page that breaks every rule gets every
complaint, and a page that keeps them gets none (a checker that cannot fail checks
nothing)."""
import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import a11y  # noqa: E402

GOOD = ('<!doctype html><html lang="en"><head><meta name="viewport" content="width=device-width">'
        '<title>T</title></head><body><h1>A</h1><h2>B</h2><label for="x">X</label>'
        '<input id="x" name="x" aria-describedby="h"><p id="h">help</p>'
        '<label>Wrapped <select name="s"></select></label><input type="hidden" name="t">'
        '<button>Go</button><a href="/">Home</a><img src="/a.png" alt="">'
        '<table><tr><th scope="col">h</th></tr><tr><td>1</td></tr></table></body></html>')

BAD = ('<html><head><title> </title></head><body><h1>A</h1><h3>B</h3><h1>C</h1>'
       '<input name="x"><select name="s"></select><textarea name="t"></textarea>'
       '<button></button><img src="a.png"><a href="/x"></a><span id="d"></span>'
       '<span id="d" aria-describedby="nope"></span><table><tr><td>1</td></tr></table>'
       '<a href="/y" tabindex="3">y</a></body></html>')

WANT = [
    "heading h3 follows h1 (a level skipped)",
    "a <button> without text",
    "an image without alt: a.png",
    "a <a> without text (/x)",
    "a positive tabindex on <a>",
    "<html> has no lang",
    "no <title>",
    "2 <h1> headings, not one",
    "no viewport meta",
    "a input name=x without a label",
    "a select name=s without a label",
    "a textarea name=t without a label",
    "id 'd' used 2 times",
    "aria names a missing id 'nope'",
    "a table without header cells",
]


def main():
    ok = True
    got = a11y.check(GOOD)
    if got:
        print("a good page was faulted: %s" % got)
        ok = False
    got = a11y.check(BAD)
    for want in WANT:
        if not any(p.startswith(want) for p in got):
            print("not found: %r in %s" % (want, got))
            ok = False
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
