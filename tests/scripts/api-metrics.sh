#!/bin/bash
# Size of each crate's public API and sources, for comparing two versions of the tree:
#
#   bash tests/scripts/api-metrics.sh [DOC_DIR]
#
# Runs `cargo doc --workspace --no-deps` (unless DOC_DIR, a target/doc of a finished run, is
# given) and prints, per library crate: the public items rustdoc lists on its all.html page
# (structs, enums, traits, functions, types, statics, constants, macros), the inherent
# methods of those types (rustdoc's "Implementations" sections), the Rust source files and
# lines under the crate's directory. Binary-only crates are documented with their private
# items by cargo, so they are marked "(binary: private items)".
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
DOC=${1:-}
if [ -z "$DOC" ]; then
  cargo doc --workspace --no-deps --locked -q
  DOC=${CARGO_TARGET_DIR:-$ROOT/target}/doc
fi
python3 - "$DOC" "$ROOT" << 'PY'
import os, re, subprocess, sys, json
doc, root = sys.argv[1], sys.argv[2]
meta = json.loads(subprocess.run(["cargo", "metadata", "--no-deps", "--format-version", "1"],
                                 capture_output=True, text=True, check=True, cwd=root).stdout)
print(f"{'crate':<16} {'items':>6} {'methods':>8} {'files':>6} {'lines':>7}  note")
for pkg in sorted(meta["packages"], key=lambda p: p["name"]):
    crate_dir = os.path.dirname(pkg["manifest_path"])
    libs = [t for t in pkg["targets"] if "lib" in t["kind"]]
    bins = [t for t in pkg["targets"] if "bin" in t["kind"]]
    main = libs[0] if libs else (bins[0] if bins else pkg["targets"][0])
    name = main["name"].replace("-", "_")
    page = os.path.join(doc, name, "all.html")
    items = methods = 0
    if os.path.exists(page):
        text = open(page).read()
        links = re.findall(r'<li><a href="([^"]+\.html)">', text)
        items = len(links)
        for link in set(links):
            if not re.match(r'(.*/)?(struct|enum|trait|union)\.', link):
                continue
            p = os.path.join(doc, name, link)
            if not os.path.exists(p):
                continue
            t = open(p).read()
            start = t.find('id="implementations-list"')
            if start < 0:
                start = t.find('id="required-methods"')
            if start < 0:
                continue
            end = min([i for i in (t.find('id="trait-implementations"', start),
                                  t.find('id="synthetic-implementations"', start)) if i > 0] or [len(t)])
            methods += len(set(re.findall(r'id="(?:tymethod|method)\.([a-z0-9_]+)"', t[start:end])))
    files = lines = 0
    for d, subdirs, fs in os.walk(crate_dir):
        subdirs[:] = [s for s in subdirs if s not in ("target",) and
                      not os.path.exists(os.path.join(d, s, "Cargo.toml"))]
        for f in fs:
            if f.endswith(".rs"):
                files += 1
                lines += sum(1 for _ in open(os.path.join(d, f), errors="replace"))
    note = "" if libs else "(binary: private items)"
    print(f"{pkg['name']:<16} {items:>6} {methods:>8} {files:>6} {lines:>7}  {note}")
PY
