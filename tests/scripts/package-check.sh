#!/bin/bash
# The packages of fence-rs, checked the way an admin uses them (tests/run-all.sh runs it):
#
#   package-check.sh rpm RPM      the RPM's file list, scripts and dependencies (rpm -qlp ...)
#   package-check.sh install DEB  records the machine; dpkg -i and -r after what admins do on top
#                                 (install --prefix fence_ --force over it, standard names with a
#                                 name removed, a build-folder install before it: FENCE_BUILD_BIN);
#                                 then dpkg -i DEB and checks what it installed:
#                                 every agent name runs from /usr/sbin, `man fence_rs_ipmilan`,
#                                 the alert agent, fence-rs-standard-names enable/disable
#                                 (fence-agents' files diverted and restored bit for bit)
#   package-check.sh remove       fence-rs-standard-names enable, then dpkg -r fence-rs: the
#                                 package's prerm gives fence-agents' names back, and the machine
#                                 is as recorded before install (no file, link, diversion or
#                                 directory of ours left)
#
# Between install and remove, the end-to-end suites run against the installed package.
# State between the phases: $FENCE_PACKAGE_STATE (default /tmp/fence-rs-package-check).
# Prints one line per check and "N passed, M failed"; exits non-zero when any check failed.
set -uo pipefail
STATE=${FENCE_PACKAGE_STATE:-/tmp/fence-rs-package-check}
PASS=0
FAIL=0
pass() { PASS=$((PASS + 1)); echo "PASS $*"; }
fail() { FAIL=$((FAIL + 1)); echo "FAIL $*"; }
check() { # DESCRIPTION COMMAND...: passes when COMMAND succeeds
  local what=$1
  shift
  if "$@" > "$STATE/last.out" 2>&1; then pass "$what"; else fail "$what: $(head -c 600 "$STATE/last.out")"; fi
}
finish() { echo "$PASS passed, $FAIL failed"; [ "$FAIL" -eq 0 ]; exit $?; }

# What the package may touch, recorded so that remove can compare: every entry (with link
# targets and checksums) of the directories it installs into, and dpkg's diversions.
snapshot() {
  {
    for d in /usr/sbin /usr/libexec /usr/lib/fence-rs /usr/share/man/man8 /usr/share/doc/fence-rs; do
      [ -e "$d" ] || { echo "absent $d"; continue; }
      find "$d" -maxdepth 2 \( -type l -printf 'link %p -> %l\n' \) -o \( -type f -printf 'file %p %s %m\n' \) -o \( -type d -printf 'dir %p\n' \)
    done | sort
    sha256sum /usr/sbin/fence_* 2> /dev/null | sort -k 2
    dpkg-divert --list | sort
  } > "$1"
}

python_agent() { # NAME: the file of fence-agents' NAME is a Python script
  head -n 1 "/usr/sbin/$1" | grep -q python
}

case "${1:-}" in
  rpm)
    rpm=${2:?RPM}
    mkdir -p "$STATE"
    check "rpm -qip $(basename "$rpm"): a fence-rs package" sh -c "rpm -qip '$rpm' | grep -q '^Name *: fence-rs'"
    rpm -qlp "$rpm" > "$STATE/rpm-files" 2> "$STATE/rpm-err" || fail "rpm -qlp: $(cat "$STATE/rpm-err")"
    for f in /usr/sbin/fence-agent /usr/sbin/fence_rs_ipmilan /usr/sbin/fence_rs_redfish /usr/sbin/fence_rs_vbox \
      /usr/sbin/fence_rs_virsh /usr/sbin/fence_rs_ilo3 /usr/sbin/fence-rs-standard-names \
      /usr/libexec/fence-rs/fence_rs_alert /usr/share/man/man8/fence_rs_ipmilan.8.gz \
      /usr/share/man/man8/fence-agent.8.gz /usr/share/doc/fence-rs/README.md; do
      if grep -qx "$f" "$STATE/rpm-files"; then pass "rpm -qlp lists $f"; else fail "rpm -qlp does not list $f"; fi
    done
    if grep -q '/target/\|^/usr/sbin/fence_rs_alert$' "$STATE/rpm-files"; then
      fail "the RPM holds a build path or the alert agent in /usr/sbin: $(grep '/target/\|fence_rs_alert' "$STATE/rpm-files")"
    else
      pass "no build path in the RPM, the alert agent outside /usr/sbin"
    fi
    check "rpm -qp --scripts: preun gives fence-agents' names back" \
      sh -c "rpm -qp --scripts '$rpm' | grep -A8 '^preuninstall' | grep -q 'fence-rs-standard-names disable'"
    rpm2cpio "$rpm" | (cd "$STATE" && rm -rf rpm-root && mkdir rpm-root && cd rpm-root && cpio -idm --quiet) ||
      fail "rpm2cpio | cpio"
    needed=$(readelf -d "$STATE/rpm-root/usr/sbin/fence-agent" 2> /dev/null | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
    rpm -qp --requires "$rpm" > "$STATE/rpm-requires" 2>&1
    missing=$(for lib in $needed; do grep -q "^$lib" "$STATE/rpm-requires" || echo "$lib"; done)
    if [ -n "$needed" ] && [ -z "$missing" ]; then
      pass "rpm -qp --requires names every shared library the binary needs: $(echo $needed)"
    else
      fail "rpm -qp --requires misses [$missing] of the binary's NEEDED [$needed]"
    fi
    check "the RPM's fence_rs_ipmilan is a link to the RPM's fence-agent, which runs" \
      sh -c "[ \"\$(readlink '$STATE/rpm-root/usr/sbin/fence_rs_ipmilan')\" = fence-agent ] &&
             '$STATE/rpm-root/usr/sbin/fence_rs_ipmilan' -o metadata | grep -q '<resource-agent name=\"fence_rs_ipmilan\"'"
    finish
    ;;
  install)
    deb=${2:?DEB}
    rm -rf "$STATE" && mkdir -p "$STATE"
    if dpkg-query -W -f='${db:Status-Status}' fence-rs 2> /dev/null | grep -qx installed; then
      echo "note: fence-rs is installed already: dpkg -r fence-rs first, so that the record is of a machine without it"
      dpkg -r fence-rs > "$STATE/first-remove.log" 2>&1 || { fail "dpkg -r fence-rs: $(cat "$STATE/first-remove.log")"; finish; }
    fi
    # Our own earlier test installs would be taken over by dpkg and then be missing after
    # remove: undone first, by their own uninstall where they left a record, else removed.
    if [ -f /usr/sbin/.fence-rs-install ] && [ -x /usr/sbin/fence-agent ]; then
      echo "note: /usr/sbin/fence-agent uninstall --dir /usr/sbin (an earlier install from a build folder)"
      /usr/sbin/fence-agent uninstall --dir /usr/sbin || { fail "uninstalling the earlier install"; finish; }
    fi
    for f in /usr/sbin/fence-agent /usr/sbin/fence_rs_* /usr/sbin/.fence-rs-install; do
      [ -e "$f" ] || [ -L "$f" ] || continue
      if ! dpkg -S "$f" > /dev/null 2>&1; then
        echo "note: removing $f (an earlier test install, no package owns it)"
        rm -f "$f"
      fi
    done
    for a in fence_ipmilan fence_redfish fence_vbox; do
      python_agent "$a" || { fail "fence-agents' $a is missing (tests/scripts/install-deps.sh installs fence-agents)"; finish; }
    done
    snapshot "$STATE/before"
    zcat /usr/share/man/man8/fence_ipmilan.8.gz | sha256sum > "$STATE/man-before"
    # Removal after what admins do on top of the package: each must end as recorded above.
    as_before() { # WHAT: the machine is as recorded before install
      snapshot "$STATE/now"
      if diff -u "$STATE/before" "$STATE/now" > "$STATE/diff"; then pass "$1: then dpkg -r leaves the machine as before"
      else fail "$1: dpkg -r left the machine changed: $(grep '^[-+][^-+]' "$STATE/diff" | head -n 10)"; fi
    }
    quiet() { "$@" > "$STATE/step.log" 2>&1 || { echo "      $* failed: $(tail -n 5 "$STATE/step.log")"; return 1; }; }
    quiet dpkg -i "$deb" && quiet /usr/sbin/fence-agent install --dir /usr/sbin --prefix fence_ --force &&
      quiet dpkg -r fence-rs
    as_before "fence-agent install --prefix fence_ --force over the package's binary (its prerm uninstalls it)"
    quiet dpkg -i "$deb" && quiet /usr/sbin/fence-rs-standard-names enable && rm -f /usr/sbin/fence_vbox &&
      quiet dpkg -r fence-rs
    as_before "standard names enabled, then an admin removes /usr/sbin/fence_vbox"
    build_bin=${FENCE_BUILD_BIN:-}
    if [ -n "$build_bin" ] && [ -x "$build_bin" ]; then
      quiet "$build_bin" install --dir /usr/sbin && quiet dpkg -i "$deb" && quiet dpkg -V fence-rs &&
        [ ! -e /usr/sbin/.fence-rs-install ] && quiet dpkg -r fence-rs
      as_before "an install from the build folder, then dpkg -i (its preinst uninstalls it; dpkg -V clean)"
    else
      fail "FENCE_BUILD_BIN ('$build_bin') is not an executable fence-agent: the build-folder scenario cannot run"
    fi
    check "dpkg -i $(basename "$deb")" dpkg -i "$deb"
    check "dpkg -s fence-rs: installed" sh -c "dpkg-query -W -f='\${db:Status-Status}' fence-rs | grep -qx installed"
    for a in $(/usr/sbin/fence-agent --list-agents); do
      n=fence_rs_${a#fence_}
      check "/usr/sbin/$n -o metadata names $n" sh -c "/usr/sbin/$n -o metadata | grep -q '<resource-agent name=\"$n\"'"
    done
    check "the agents are links to the package's /usr/sbin/fence-agent" \
      sh -c "[ \"\$(readlink /usr/sbin/fence_rs_ipmilan)\" = fence-agent ] && dpkg -S /usr/sbin/fence-agent | grep -q '^fence-rs:'"
    check "man fence_rs_ipmilan" sh -c "MANPAGER=cat MANWIDTH=80 man fence_rs_ipmilan 2>&1 | grep -q 'fence_rs_ipmilan - Fence agent for IPMI'"
    check "man -w fence_rs_vbox: the package's page" sh -c "man -w fence_rs_vbox | grep -qx /usr/share/man/man8/fence_rs_vbox.8.gz"
    check "man fence-agent" sh -c "MANPAGER=cat man fence-agent 2>&1 | grep -q 'fence agents in one binary'"
    ev=$STATE/alert.jsonl
    check "the alert agent /usr/libexec/fence-rs/fence_rs_alert writes a JSON line" \
      sh -c "CRM_alert_kind=node CRM_alert_node=n1 CRM_alert_desc=member CRM_alert_recipient='$ev' /usr/libexec/fence-rs/fence_rs_alert &&
             grep -q '\"source\":\"pacemaker\"' '$ev'"
    check "fence-rs-standard-names status: fence-agents' names are theirs" \
      sh -c "/usr/sbin/fence-rs-standard-names status | grep -qx 'fence_ipmilan fence-agents'"
    sha_before=$(sha256sum /usr/sbin/fence_ipmilan | cut -d' ' -f1)
    check "fence-rs-standard-names enable" /usr/sbin/fence-rs-standard-names enable
    check "enabled: fence_ipmilan is ours (metadata says fence-rs) and Pacemaker's name runs it" \
      sh -c "[ \"\$(readlink /usr/sbin/fence_ipmilan)\" = fence-agent ] && /usr/sbin/fence_ipmilan -o metadata | grep -q 'fence-rs'"
    check "enabled: fence-agents' fence_ipmilan diverted, intact, outside /usr/sbin" \
      sh -c "dpkg-divert --list /usr/sbin/fence_ipmilan | grep -q 'by fence-rs' &&
             [ \"\$(sha256sum /usr/lib/fence-rs/fence-agents/fence_ipmilan | cut -d' ' -f1)\" = $sha_before ]"
    check "enabled: man fence_ipmilan is ours" sh -c "zcat /usr/share/man/man8/fence_ipmilan.8.gz | grep -q '\"fence-rs '"
    check "fence-rs-standard-names disable" /usr/sbin/fence-rs-standard-names disable
    check "disabled: fence-agents' fence_ipmilan is back, bit for bit, and no diversion is left" \
      sh -c "[ ! -L /usr/sbin/fence_ipmilan ] && [ \"\$(sha256sum /usr/sbin/fence_ipmilan | cut -d' ' -f1)\" = $sha_before ] &&
             ! dpkg-divert --list | grep -q 'by fence-rs'"
    check "disabled: fence-agents' man page is back" sh -c "zcat /usr/share/man/man8/fence_ipmilan.8.gz | sha256sum | cmp -s - '$STATE/man-before'"
    finish
    ;;
  remove)
    [ -f "$STATE/before" ] || { fail "no record of the machine before install ($STATE/before)"; finish; }
    check "fence-rs-standard-names enable (so that dpkg -r must give the names back)" /usr/sbin/fence-rs-standard-names enable
    check "dpkg -r fence-rs" dpkg -r fence-rs
    check "dpkg -s fence-rs: not installed" sh -c "s=\$(dpkg-query -W -f='\${db:Status-Status}' fence-rs 2> /dev/null || true); [ -z \"\$s\" ] || [ \"\$s\" = not-installed ]"
    snapshot "$STATE/after"
    if diff -u "$STATE/before" "$STATE/after" > "$STATE/diff"; then
      pass "after dpkg -r the machine is as before dpkg -i ($(wc -l < "$STATE/before") entries compared)"
    else
      fail "dpkg -r left the machine changed: $(grep '^[-+][^-+]' "$STATE/diff" | head -n 20)"
    fi
    finish
    ;;
  *)
    echo "usage: $0 rpm RPM | install DEB | remove" >&2
    exit 2
    ;;
esac
