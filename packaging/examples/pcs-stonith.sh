#!/bin/sh
# Stonith devices through fence-rs's agents, with pcs (RHEL, Fedora, Debian's pcs).
# Two nodes, one board each; a node never runs the device that fences it.

# IPMI (iLO, iDRAC, XCC, Supermicro...): lanplus, the password from a root-only file.
pcs stonith create fence-node1 fence_rs_ipmilan ip=10.0.0.11 username=admin \
  password_script="cat /etc/fence-rs/node1.pw" lanplus=1 pcmk_host_list=node1
pcs stonith create fence-node2 fence_rs_ipmilan ip=10.0.0.12 username=admin \
  password_script="cat /etc/fence-rs/node2.pw" lanplus=1 pcmk_host_list=node2

# Redfish, trusting the board's own self-signed certificate:
#   pcs stonith create fence-node1 fence_rs_redfish ip=10.0.0.11 username=admin \
#     password_script="cat /etc/fence-rs/node1.pw" ssl_ca_file=/etc/fence-rs/node1.pem \
#     pcmk_host_list=node1

# VirtualBox VMs on one host (the seed article's setup):
#   pcs stonith create fence-vbox fence_rs_vbox ip=vboxhost username=vbox \
#     identity_file=/root/.ssh/id_ed25519 pcmk_host_map="node1:CentOS83-1;node2:CentOS83-2"

pcs constraint location fence-node1 avoids node1=INFINITY
pcs constraint location fence-node2 avoids node2=INFINITY

# Every fencing, node and resource event as a JSON line (Pacemaker alerts):
install -o hacluster -g haclient -m 0660 /dev/null /var/log/fence-events.jsonl
pcs alert create id=fence-rs path=/usr/libexec/fence-rs/fence_rs_alert
pcs alert recipient add fence-rs value=/var/log/fence-events.jsonl
