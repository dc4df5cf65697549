#!/usr/bin/env python3
"""Checks the HTML that `cargo doc` wrote: no broken link, no unresolved cross-crate link.

    python3 tests/scripts/check-doc-links.py DOC_DIR CRATE[:DEP,DEP...] ...

DOC_DIR is cargo's doc directory (target/doc). For each CRATE (its library name, e.g.
fence_ipmi) every HTML file under DOC_DIR/CRATE is read, and:

- every href and src (outside the blanket implementations: other crates' docs) that points to a local file (not http:, https:, mailto:, data:,
  javascript:) must name an existing file (a directory: its index.html), inside DOC_DIR;
- every #fragment of such a link (or of a link within the page) must be an id or name of
  the target page; rustdoc's source pages (src/...) take line numbers and ranges
  (#12, #12-30), checked against the page's line anchors;
- no text of an intra-doc link that rustdoc could not resolve is left: `[fence_core::Engine]`
  and `[<code>...</code>]` outside code blocks;
- when DEPs are named after the colon, at least one page of CRATE links into the
  documentation of one of them (DOC_DIR/DEP): when rustdoc documents a crate before the
  HTML of its dependencies exists, it writes their names as plain text, without links
  (the failure of issue 20): intra-doc links as `[FenceDevice]` (caught above), names in
  signatures without any trace. (A crate need not link into every dependency: fence-cli's
  library names no backend, its binary registers them.)

Prints one line per problem and a summary; exits 1 when there is any problem.
"""

import html.parser
import os
import re
import sys
from urllib.parse import quote, unquote, urlsplit

REMOTE = ("http:", "https:", "mailto:", "data:", "javascript:", "ftp:")
UNRESOLVED = re.compile(r"\[(?:<code>[^<]*</code>|fence_[a-z_]+::[A-Za-z_:]+)\]")
LINE_RANGE = re.compile(r"^(\d+)(?:-(\d+))?$")


class Page(html.parser.HTMLParser):
    """The links, anchors and unresolved-link text of one HTML page."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.links = []
        self.anchors = set()
        self.in_pre = 0
        self.text = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        for key in ("id", "name"):
            if a.get(key):
                self.anchors.add(a[key])
        for key in ("href", "src"):
            if a.get(key) is not None and not (tag == "link" and a.get("rel") == "preconnect"):
                self.links.append(a[key])
        if tag == "pre":
            self.in_pre += 1

    def handle_endtag(self, tag):
        if tag == "pre" and self.in_pre:
            self.in_pre -= 1


def parse(path, cache):
    if path not in cache:
        with open(path, encoding="utf-8", errors="replace") as f:
            raw = f.read()
        # The blanket implementations (the last section of a page: From, Into, tracing's
        # Instrument, ...) carry the documentation of other crates' traits, whose
        # intra-doc links only resolve when those crates are documented too (not with
        # --no-deps): not ours, so not checked. Their anchors still count.
        cut = raw.find('<div id="blanket-implementations-list">')
        own = raw if cut < 0 else raw[:cut] + raw[raw.find("</main>", cut):]
        anchors = Page()
        anchors.feed(raw)
        page = Page()
        page.feed(own)
        page.anchors = anchors.anchors
        # Unresolved links are looked for outside <pre> (code blocks may hold brackets).
        outside = re.sub(r"<pre\b.*?</pre>", "", own, flags=re.S)
        page.unresolved = sorted(set(UNRESOLVED.findall(outside)))
        cache[path] = page
    return cache[path]


def fragment_ok(target, fragment, page):
    # rustdoc writes ids percent-encoded (impl-From%3CT%3E-for-T) and links either way.
    if not fragment or {fragment, unquote(fragment), quote(unquote(fragment), safe="")} & page.anchors:
        return True
    m = LINE_RANGE.match(fragment)
    if m and os.sep + "src" + os.sep in target:
        return all(n in page.anchors for n in m.groups() if n)
    return False


def main(argv):
    if len(argv) < 3:
        print(__doc__)
        return 2
    doc = os.path.realpath(argv[1])
    cache = {}
    problems = []
    pages = links = 0
    for spec in argv[2:]:
        crate, _, deps = spec.partition(":")
        root = os.path.join(doc, crate)
        if not os.path.isfile(os.path.join(root, "index.html")):
            problems.append(f"{crate}: no {root}/index.html (not documented)")
            continue
        linked = {d: 0 for d in deps.split(",") if d}
        for dirpath, _, files in os.walk(root):
            for name in files:
                if not name.endswith(".html"):
                    continue
                path = os.path.join(dirpath, name)
                rel = os.path.relpath(path, doc)
                page = parse(path, cache)
                pages += 1
                for text in page.unresolved:
                    problems.append(f"{rel}: unresolved link text {text}")
                for link in page.links:
                    if link.startswith(REMOTE) or link.startswith("//"):
                        continue
                    links += 1
                    parts = urlsplit(link)
                    fragment = parts.fragment
                    if parts.path:
                        target = os.path.normpath(os.path.join(dirpath, unquote(parts.path)))
                    else:
                        target = path
                    if os.path.isdir(target):
                        target = os.path.join(target, "index.html")
                    if not (target == doc or target.startswith(doc + os.sep)):
                        problems.append(f"{rel}: link outside the doc directory: {link}")
                        continue
                    if not os.path.isfile(target):
                        problems.append(f"{rel}: broken link: {link}")
                        continue
                    for d in linked:
                        if target.startswith(os.path.join(doc, d) + os.sep):
                            linked[d] += 1
                    if fragment and target.endswith(".html"):
                        if not fragment_ok(target, fragment, parse(target, cache)):
                            problems.append(f"{rel}: no #{fragment} in {os.path.relpath(target, doc)}")
        if linked and not any(linked.values()):
            names = ", ".join(linked)
            problems.append(
                f"{crate}: no link into the documentation of {names} (their names left as "
                f"plain text: were they documented after {crate}?)"
            )
    for p in problems:
        print(p)
    print(f"doc link check: {pages} pages, {links} local links, {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
