#!/bin/bash
# Lays out the files of the fence-rs package under DESTDIR: the one layout both the Debian
# package (debian/rules) and the RPM (packaging/rpm/fence-rs.spec) ship.
#
#   packaging/stage.sh DESTDIR BIN
#
# BIN is the built (release) fence-agent; it is copied, not linked, and it renders the man
# pages from each agent's own parameter table (`fence-agent man NAME`).
#
#   /usr/sbin/fence-agent                     the multi-call binary
#   /usr/sbin/fence_rs_<agent>                one relative link per agent name (fence_rs_ipmilan,
#                                             ..._ilo3, ..._redfish, ..._vbox, ..._virsh, ...)
#   /usr/sbin/fence-rs-standard-names         enable|disable|status: our binary under fence-agents'
#                                             names through dpkg-divert (Debian) or aside copies
#   /usr/libexec/fence-rs/fence_rs_alert      the Pacemaker alert agent (not in /usr/sbin: the
#                                             fencer would list it as a fence agent)
#   /usr/share/man/man8/*.8.gz                fence-agent(8), fence_rs_<agent>(8),
#                                             fence-rs-standard-names(8)
#   /usr/share/doc/fence-rs/                  README.md, docs/*.md, examples/
#
# The directories are Debian's and Fedora's; the RPM spec passes its distribution's own as
# SBINDIR, LIBEXECDIR, MANDIR and DOCDIR.
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: $0 DESTDIR BIN" >&2; exit 2; }
DEST=$1
BIN=$2
ROOT=$(cd "$(dirname "$0")/.." && pwd)
[ -x "$BIN" ] || { echo "stage.sh: $BIN is not an executable" >&2; exit 1; }
PREFIX=fence_rs_
SBINDIR=${SBINDIR:-/usr/sbin}
LIBEXECDIR=${LIBEXECDIR:-/usr/libexec}
MANDIR=${MANDIR:-/usr/share/man}
DOCDIR=${DOCDIR:-/usr/share/doc/fence-rs}
MAN8=$DEST$MANDIR/man8
DOC=$DEST$DOCDIR

install -d "$DEST$SBINDIR" "$DEST$LIBEXECDIR/fence-rs" "$MAN8" "$DOC/docs" "$DOC/examples"
install -m 0755 "$BIN" "$DEST$SBINDIR/fence-agent"
sed -e "s|^SBIN=\${FENCE_RS_SBIN:-/usr/sbin}\$|SBIN=\${FENCE_RS_SBIN:-$SBINDIR}|" \
  -e "s|^MAN8=\${FENCE_RS_MAN8:-/usr/share/man/man8}\$|MAN8=\${FENCE_RS_MAN8:-$MANDIR/man8}|" \
  "$ROOT/packaging/fence-rs-standard-names" > "$DEST$SBINDIR/fence-rs-standard-names"
chmod 0755 "$DEST$SBINDIR/fence-rs-standard-names"
grep -q "^SBIN=\${FENCE_RS_SBIN:-$SBINDIR}\$" "$DEST$SBINDIR/fence-rs-standard-names" ||
  { echo "stage.sh: could not set SBIN in fence-rs-standard-names" >&2; exit 1; }
ln -sfn "$(realpath -m --relative-to="$LIBEXECDIR/fence-rs" "$SBINDIR/fence-agent")" \
  "$DEST$LIBEXECDIR/fence-rs/fence_rs_alert"

man_page() { # NAME: the page of NAME, compressed as Debian and Fedora ship them
  "$BIN" man "$1" | gzip -9n > "$MAN8/$1.8.gz"
}
man_page fence-agent
mapfile -t AGENTS < <("$BIN" --list-agents)
[ "${#AGENTS[@]}" -gt 0 ] || { echo "stage.sh: $BIN --list-agents printed nothing" >&2; exit 1; }
for agent in "${AGENTS[@]}"; do
  name=$PREFIX${agent#fence_}
  ln -sfn fence-agent "$DEST$SBINDIR/$name"
  man_page "$name"
done
gzip -9nc "$ROOT/packaging/fence-rs-standard-names.8" > "$MAN8/fence-rs-standard-names.8.gz"

install -m 0644 "$ROOT/README.md" "$DOC/README.md"
install -m 0644 "$ROOT"/docs/*.md "$DOC/docs/"
install -m 0644 "$ROOT"/packaging/examples/* "$DOC/examples/"
install -m 0644 "$ROOT/LICENSE-APACHE" "$ROOT/LICENSE-MIT" "$DOC/"
echo "staged $(find "$DEST" -type f -o -type l | wc -l) files and links under $DEST"
