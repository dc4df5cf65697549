#!/bin/bash
# Installs everything the test suite, the benchmarks and the end-to-end tests need on a
# Debian 12 host, as root: Debian packages (the third-party peers, among them libvirt's
# daemon and virsh for fence_virsh, Pacemaker, the Python fence-agents for side-by-side
# comparison, xmllint, build dependencies of ssh2, net-snmp's snmptrap and snmptrapd for the
# two-node suite's SNMP traps) and a Python
# venv with the Redfish emulator (sushy-tools), pyghmi's fake BMC, DMTF's validators (Redfish
# Protocol Validator, Service Validator, Use Case Checkers), the independent Redfish and IPMI
# clients (redfishtool, sushy, DMTF's python-redfish, python-ipmi), and the DSP8010 CSDL
# schemas the Service Validator checks against (unpacked into $VENV/share/dmtf-csdl).
# Safe to run again: it installs only what is missing.
# Env: FENCE_PEERS_VENV  venv path (default ${XDG_CACHE_HOME:-$HOME/.cache}/fence-rs-peers-venv)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
PEERS=$(cd "$HERE/../peers" && pwd)
VENV=${FENCE_PEERS_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/fence-rs-peers-venv}
export DEBIAN_FRONTEND=noninteractive
if [ "$(id -u)" != 0 ]; then echo "install-deps.sh: run as root (apt, useradd, sshd)" >&2; exit 1; fi
PKGS=(openssh-server openssh-client ipmitool freeipmi-tools openipmi fence-agents
      pacemaker pacemaker-cli-utils corosync libxml2-utils xsltproc hyperfine curl openssl
      iproute2 nftables procps python3-venv libssl-dev pkg-config zlib1g-dev time snmp snmptrapd
      libvirt-clients libvirt-daemon)
# The packages of fence-rs (packaging/build-deb.sh, build-rpm.sh) and their checks
# (tests/scripts/package-check.sh: man pages, rpm -qlp, rpm2cpio | cpio).
PKGS+=(debhelper dpkg-dev rpm cpio groff-base man-db)
# Keep package postinst scripts from starting daemons (sshd on 0.0.0.0:22, corosync, ...).
[ -e /usr/sbin/policy-rc.d ] || { printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; }
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "apt: installing ${missing[*]}"
  apt-get update -q >/dev/null
  apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi
echo "apt: ${#PKGS[@]} packages present"
PY=/usr/bin/python3
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
"$VENV/bin/pip" install -q --disable-pip-version-check -c "$PEERS/pip-constraints.txt" 'sushy-tools==2.2.0' 'pyghmi==1.6.19' 'paramiko==5.1.0' \
  'redfish_protocol_validator==1.3.2' 'redfish_service_validator==3.1.8' 'redfish_use_case_checkers==2.1.1' \
  'redfishtool==1.1.8' 'sushy==5.14.0' 'redfish==3.4.2' 'python-ipmi==0.6.1'
echo "venv: $VENV"
# DMTF's DSP8010 schemas (CSDL), for the Service Validator, which would download them from
# dmtf.org (not reachable from CI). They come from the crates.io registry: the crate
# nv-redfish-schema (Apache-2.0) carries the DSP8010 CSDL files unchanged. Checked by the
# registry's SHA-256 of the crate.
CSDL=$VENV/share/dmtf-csdl
if [ ! -f "$CSDL/ComputerSystem_v1.xml" ]; then
  crate_sha=12b683cd72e1962b4ae64a03641ac846f981db4a97bb082fa9340b23a2b983b1
  tmp=$(mktemp -d)
  curl -fsSL --max-time 120 -o "$tmp/schema.crate" https://static.crates.io/crates/nv-redfish-schema/nv-redfish-schema-0.22.1.crate
  echo "$crate_sha  $tmp/schema.crate" | sha256sum -c --quiet
  tar -xzf "$tmp/schema.crate" -C "$tmp" nv-redfish-schema-0.22.1/redfish-csdl/csdl
  mkdir -p "$CSDL"
  cp "$tmp"/nv-redfish-schema-0.22.1/redfish-csdl/csdl/*.xml "$CSDL/"
  rm -rf "$tmp"
fi
echo "DSP8010 schemas: $(find "$CSDL" -name '*.xml' | wc -l) files in $CSDL"
# Test user for the VirtualBox-over-SSH peer.
id fenceuser >/dev/null 2>&1 || useradd -m -s /bin/bash fenceuser
echo 'fenceuser:password' | chpasswd
FU_HOME=$(getent passwd fenceuser | cut -d: -f6)
install -d -o fenceuser -g fenceuser -m 755 "$FU_HOME/bin"
install -o fenceuser -g fenceuser -m 755 "$PEERS/VBoxManage.fake" "$FU_HOME/bin/VBoxManage"
install -d -m 755 /run/sshd
echo "install-deps: done"
