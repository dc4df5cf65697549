#!/bin/bash
# Are the library crates ready to publish, and are their docs whole? (issue 20)
#
#   bash tests/scripts/check-crates.sh [--docs-only]
#
# 1. License files: LICENSE-APACHE and LICENSE-MIT at the root, and the same bytes in every
#    publishable crate (cargo package takes files from the crate's directory only).
# 2. cargo package for every publishable crate together (cargo 1.95 verifies crates that
#    depend on each other through a temporary local registry): each package builds from
#    its .crate file alone, license files and README included.  Skipped with --docs-only.
# 3. The docs, RUSTDOCFLAGS="-D warnings" cargo doc --no-deps, one dependency layer at a
#    time: rustdoc writes a link into another crate only when that crate's HTML already
#    exists in target/doc, and cargo does not order the rustdoc runs of --no-deps crates,
#    so documenting them in one command leaves names of fence-core as plain text or
#    `[FenceDevice]` (what `cargo doc --no-deps -p fence-core -p fence-ipmi ...` does on a
#    fresh target). The crates' old HTML is removed first, so a stale page is never checked.
# 4. tests/scripts/check-doc-links.py over the HTML: every local href/src and #fragment
#    resolves, no unresolved intra-doc link text is left, and every crate links into each
#    workspace crate it depends on.
#
# The publishable crates are the workspace members whose manifest does not say
# `publish = false` (cargo metadata). Exits non-zero when any check failed.
# Env: CARGO_TARGET_DIR as for cargo.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT" || exit 1
DOCS_ONLY=0
[ "${1:-}" = --docs-only ] && DOCS_ONLY=1
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
failed=0
fail() { echo "FAIL: $*"; failed=1; }

# name dir lib_name layer deps(lib names, comma-separated), one line per publishable crate,
# in dependency order.
CRATES=$(cargo metadata --no-deps --format-version 1 --locked | python3 -c '
import json, sys
m = json.load(sys.stdin)
ws = {p["name"]: p for p in m["packages"] if p["id"] in m["workspace_members"]}
pub = {n: p for n, p in ws.items() if p.get("publish") != []}
def lib(p):
    return next(t["name"] for t in p["targets"] if "lib" in t["kind"])
deps = {n: sorted({d["name"] for d in p["dependencies"] if d["name"] in pub and d.get("kind") is None})
        for n, p in pub.items()}
layer = {}
def depth(n):
    if n not in layer:
        layer[n] = 1 + max([depth(d) for d in deps[n]], default=0)
    return layer[n]
for n in sorted(pub, key=lambda n: (depth(n), n)):
    d = pub[n]["manifest_path"].rsplit("/", 1)[0]
    print(n, d, lib(pub[n]), depth(n), ",".join(lib(pub[x]) for x in deps[n]) or "-")
') || { echo "cargo metadata failed"; exit 1; }
echo "publishable crates (name, layer):"
echo "$CRATES" | awk '{ printf "  %s (%s)\n", $1, $4 }'

# 1. license files
for f in LICENSE-APACHE LICENSE-MIT; do
  [ -s "$f" ] || fail "$f missing at the root"
done
while read -r name dir _ _ _; do
  for f in LICENSE-APACHE LICENSE-MIT; do
    cmp -s "$f" "$dir/$f" || fail "$name: $dir/$f missing or not the same as ./$f"
  done
  [ -s "$dir/README.md" ] || fail "$name: no README.md"
done <<< "$CRATES"

# 2. cargo package (verifies each package by building it)
if [ "$DOCS_ONLY" = 0 ]; then
  args=()
  while read -r name _; do args+=(-p "$name"); done <<< "$CRATES"
  # cargo verifies against a temporary registry of these packages under the target dir,
  # unpacks them into CARGO_HOME's registry/src/-<hash>/ once, and takes a registry crate's
  # build as fresh whatever its sources (registry crates never change): an earlier run's copy
  # and build of the same name and version would stand in for today's sources (seen: a new
  # fence-ssh item missing in fence-vbox's verification). Both are removed first; our crates
  # are rebuilt, third-party ones are not.
  while read -r name _; do
    for d in "${CARGO_HOME:-$HOME/.cargo}"/registry/src/-*/"$name"-[0-9]* "$TARGET"/debug/.fingerprint/"$name"-*; do
      if [ -d "$d" ]; then rm -rf "$d"; fi
    done
  done <<< "$CRATES"
  echo "==> cargo package --locked --allow-dirty ${args[*]}"
  cargo package --locked --allow-dirty "${args[@]}" || fail "cargo package"
  while read -r name dir _; do
    list=$(cargo package --locked --allow-dirty --list -p "$name" 2>/dev/null)
    for f in LICENSE-APACHE LICENSE-MIT README.md; do
      grep -qx "$f" <<< "$list" || fail "$name: $f not in the package"
    done
  done <<< "$CRATES"
fi

# 3. docs, one dependency layer at a time
libs=()
while read -r _ _ lib _ _; do libs+=("$lib"); done <<< "$CRATES"
for lib in "${libs[@]}"; do rm -rf "${TARGET:?}/doc/$lib"; done
for layer in $(echo "$CRATES" | awk '{ print $4 }' | sort -un); do
  args=()
  while read -r name _ _ l _; do [ "$l" = "$layer" ] && args+=(-p "$name"); done <<< "$CRATES"
  echo "==> RUSTDOCFLAGS=\"-D warnings\" cargo doc --no-deps --locked ${args[*]}"
  RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --locked "${args[@]}" || fail "cargo doc (layer $layer)"
done

# 4. the HTML
specs=()
while read -r _ _ lib _ deps; do
  if [ "$deps" = - ]; then specs+=("$lib"); else specs+=("$lib:$deps"); fi
done <<< "$CRATES"
echo "==> check-doc-links.py ${specs[*]}"
python3 "$ROOT/tests/scripts/check-doc-links.py" "$TARGET/doc" "${specs[@]}" || fail "doc links"

if [ "$failed" -ne 0 ]; then
  echo "check-crates: FAILED"
  exit 1
fi
echo "check-crates: OK"
