"""report_check.py CORETOOL PAGE.html TARGET [OLD]: the page coretool report
wrote for TARGET (compared with OLD) against coretool's own views:

- it parses as HTML whose elements nest, starts with <!DOCTYPE html>, and
  holds no script, no src=, no <link> and no http(s):// (nothing is run or
  fetched: strings from the target are escaped);
- every section's <pre> is, unescaped, exactly the text view coretool
  prints for it (summary, check, top --group-by KEY --limit 20, diff);
- every bar table lists the JSON view's groups, in order: key, bytes (or
  growth) and count."""
import html
import html.parser
import json
import re
import subprocess
import sys

coretool, page, target = sys.argv[1], sys.argv[2], sys.argv[3]
old = sys.argv[4] if len(sys.argv) > 4 else None
text = open(page, encoding="utf-8").read()

assert text.startswith("<!DOCTYPE html>"), text[:40]

VOID = {"meta", "br", "hr", "img", "input", "link"}
OPTIONAL_END = {"p", "li", "tr", "td", "th"}


# the only elements and attributes the page may have: nothing runs, nothing
# is fetched, links stay on the page (text may say anything: it is text)
TAGS = {"html", "head", "meta", "title", "style", "body", "h1", "h2", "p", "ul", "li", "a",
        "table", "tr", "th", "td", "div", "details", "summary", "pre", "small"}
ATTRS = {"lang", "charset", "href", "id", "class", "style"}


class Nest(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack, self.errors = [], []

    def handle_starttag(self, tag, attrs):
        assert tag in TAGS, f"<{tag}> on the page"
        for name, value in attrs:
            assert name in ATTRS, f"attribute {name}= on <{tag}>"
            assert name != "href" or value.startswith("#"), f"link out: {value}"
            assert name != "style" or re.fullmatch(r"width:[0-9.]+%", value), value
        if tag in OPTIONAL_END:
            while self.stack and self.stack[-1] == tag:
                self.stack.pop()
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        while self.stack and self.stack[-1] != tag and self.stack[-1] in OPTIONAL_END:
            self.stack.pop()
        if not self.stack or self.stack[-1] != tag:
            self.errors.append((tag, self.stack[-3:]))
        else:
            self.stack.pop()


n = Nest()
n.feed(text)
n.close()
assert not n.errors and not [t for t in n.stack if t not in OPTIONAL_END], (n.errors, n.stack)


def run(*args):
    return subprocess.run([coretool, *args], check=False, capture_output=True,
                          text=True).stdout


def section(ident):
    """The part of the page from <h2 id=ident> to the next <h2> (or the end)."""
    m = re.search(r'<h2 id="%s">' % re.escape(ident), text)
    assert m, f"no section {ident}"
    nxt = text.find("<h2 ", m.end())
    return text[m.end():nxt if nxt >= 0 else len(text)]


def pre_of(part):
    m = re.search(r"<pre>(.*?)</pre>", part, re.S)
    assert m, "no <pre>"
    return html.unescape(m.group(1))


def rows_of(part):
    rows = []
    for tr in re.findall(r"<tr><td class=k>(.*?)</tr>", part, re.S):
        cells = re.findall(r"<td[^>]*>(.*?)</td>", "<td class=k>" + tr, re.S)
        rows.append((html.unescape(cells[0]), html.unescape(cells[2]), html.unescape(cells[3])))
    return rows


checked = 0
assert pre_of(section("summary")) == run("summary", target), "summary differs"
assert pre_of(section("problems")) == run("check", target), "problems differ"
checked += 2

has_sites = 'id="site"' in text
tracer = json.loads(run("summary", "--format", "json", target)).get("tracer") is not None
assert has_sites == tracer, (has_sites, tracer)
keys = ["type", "size", "allocator"] + (["site", "lineno", "function", "module"] if tracer else [])
for key in keys:
    part = section(key)
    assert pre_of(part) == run("top", "--group-by", key, "--limit", "20", target), f"top {key}"
    groups = json.loads(run("top", "--group-by", key, "--limit", "20", "--format", "json",
                            target))["groups"]
    want = [(g["key"], str(g["bytes"]), str(g["count"])) for g in groups]
    got = rows_of(part)
    assert got == want, f"{key}: bars {got[:3]} against {want[:3]}"
    checked += 2

if old:
    for key, ident in (("type", "growth-type"), ("lineno", "growth-lineno")):
        if key == "lineno" and not tracer:
            continue
        part = section(ident)
        assert pre_of(part) == run("diff", "--group-by", key, "--limit", "20", old, target), \
            f"diff {key}"
        groups = json.loads(run("diff", "--group-by", key, "--limit", "20", "--format", "json",
                                old, target))["groups"]
        want = [(g["key"], "%+d" % g["bytes_diff"], str(g["count"])) for g in groups]
        assert rows_of(part) == want, f"growth {key}"
        checked += 2
else:
    assert 'id="growth-' not in text

print(f"report {page}: {checked} views match, {len(text)} bytes, nothing fetched or run")
