#!/bin/bash
# Builds the RPM of fence-rs (packaging/rpm/fence-rs.spec) from the checked-out tree:
#
#   packaging/build-rpm.sh            ->  $FENCE_PACKAGES_DIR/fence-rs-<version>-1.<arch>.rpm
#
# Needs rpmbuild (Debian: apt-get install rpm) and the cargo on PATH. On a Debian build
# machine the BuildRequires are Debian packages, not RPMs, so they are not checked
# (--nodeps); on Fedora/RHEL drop FENCE_RPM_NODEPS. FENCE_PREBUILT_BIN=path packages that
# binary instead of building one. Prints the path of the .rpm last.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${FENCE_PACKAGES_DIR:-$ROOT/target/packages}
cd "$ROOT"
spec=packaging/rpm/fence-rs.spec
version=$(sed -n 's/^Version: *//p' "$spec")
crate_version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
[ "$version" = "$crate_version" ] ||
  { echo "Failed: $spec says $version, Cargo.toml $crate_version" >&2; exit 1; }
nodeps=()
[ "${FENCE_RPM_NODEPS:-1}" = 1 ] && nodeps=(--nodeps)
mkdir -p "$OUT/rpmbuild"
rpmbuild -bb --build-in-place "${nodeps[@]}" --define "_topdir $OUT/rpmbuild" "$spec"
rpm=$(find "$OUT/rpmbuild/RPMS" -name "fence-rs-$version-*.rpm" | head -n 1)
[ -n "$rpm" ] || { echo "Failed: rpmbuild made no fence-rs-$version RPM" >&2; exit 1; }
mv -f "$rpm" "$OUT/"
echo "$OUT/$(basename "$rpm")"
