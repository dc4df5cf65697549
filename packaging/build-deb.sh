#!/bin/bash
# Builds the Debian package of fence-rs (debian/) and collects it:
#
#   packaging/build-deb.sh            ->  $FENCE_PACKAGES_DIR/fence-rs_<version>_<arch>.deb
#
# dpkg-buildpackage -b -us -uc underneath (binary only, unsigned); needs debhelper, dpkg-dev
# and the cargo on PATH. FENCE_PACKAGES_DIR defaults to target/packages; CARGO_TARGET_DIR is
# honoured; FENCE_PREBUILT_BIN=path packages that binary instead of building one.
# Prints the path of the .deb last.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${FENCE_PACKAGES_DIR:-$ROOT/target/packages}
cd "$ROOT"
version=$(dpkg-parsechangelog -S Version)
arch=$(dpkg-architecture -q DEB_HOST_ARCH)
crate_version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
[ "$version" = "$crate_version" ] ||
  { echo "Failed: debian/changelog says $version, Cargo.toml $crate_version" >&2; exit 1; }
dpkg-buildpackage -b -us -uc --no-sign
mkdir -p "$OUT"
for f in "../fence-rs_${version}_${arch}.deb" "../fence-rs_${version}_${arch}.buildinfo" "../fence-rs_${version}_${arch}.changes"; do
  [ -e "$f" ] && mv -f "$f" "$OUT/"
done
rm -rf debian/fence-rs debian/.debhelper debian/files debian/*.substvars debian/*.debhelper.log debian/debhelper-build-stamp
echo "$OUT/fence-rs_${version}_${arch}.deb"
