#!/usr/bin/env python3
"""Counting UDP relay for measuring IPMI round trips of any client (ipmitool, fence-rs).

Usage: udp_relay.py LISTEN_PORT TARGET_PORT COUNTS_FILE
Forwards datagrams between clients on 127.0.0.1:LISTEN_PORT and 127.0.0.1:TARGET_PORT
(one upstream socket per client address, so a BMC sees each client as its own peer) and
rewrites COUNTS_FILE after every datagram with "up down clients".
"""
import selectors, socket, sys

listen_port, target_port, counts_file = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
front = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
front.bind(("127.0.0.1", listen_port))
sel = selectors.DefaultSelector()
sel.register(front, selectors.EVENT_READ, None)
upstream = {}
up = down = 0

def save():
    with open(counts_file, "w") as f:
        f.write(f"{up} {down} {len(upstream)}\n")

save()
while True:
    for key, _ in sel.select():
        if key.data is None:
            data, client = front.recvfrom(4096)
            if client not in upstream:
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                s.connect(("127.0.0.1", target_port))
                upstream[client] = s
                sel.register(s, selectors.EVENT_READ, client)
            upstream[client].send(data)
            up += 1
        else:
            data = key.fileobj.recv(4096)
            front.sendto(data, key.data)
            down += 1
        save()
