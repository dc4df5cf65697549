#!/usr/bin/env python3
"""An SSH server (paramiko) that runs each exec request with /bin/sh and then cuts it short,
to show that fence-vbox never takes an incomplete command for a finished one.

  ssh_cutter.py MODE PORTFILE

MODE: `nostatus` sends the whole output and closes the channel without an exit status
(libssh2 then reports status 0); `empty` sends nothing and closes without an exit status;
`truncate` sends the first half of the output, then exit status 0; `whole` cuts nothing
(output, stderr and the exit status, as sshd sends them). Listens on 127.0.0.1, a free port
written to PORTFILE; user `fenceuser`, password `password`, or the contents of the file named
by $SSH_CUTTER_PASSWORD_FILE (read at every login, so a test can change it between runs). Commands run with the
server's own environment (the caller puts a VBoxManage on PATH). Ends on SIGTERM.
"""
import os
import socket
import subprocess
import sys
import threading

import paramiko


class Server(paramiko.ServerInterface):
    """One per connection: the exec request of each channel, by channel id."""

    def __init__(self):
        self.commands = {}
        self.cond = threading.Condition()

    def check_auth_password(self, username, password):
        expected = "password"
        path = os.environ.get("SSH_CUTTER_PASSWORD_FILE")
        if path:
            with open(path) as f:
                expected = f.read()
        if username == "fenceuser" and password == expected:
            return paramiko.AUTH_SUCCESSFUL
        return paramiko.AUTH_FAILED

    def get_allowed_auths(self, username):
        return "password"

    def check_channel_request(self, kind, chanid):
        if kind == "session":
            return paramiko.OPEN_SUCCEEDED
        return paramiko.OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED

    def check_channel_exec_request(self, channel, command):
        with self.cond:
            self.commands[channel.get_id()] = command.decode()
            self.cond.notify_all()
        return True

    def command_of(self, channel):
        with self.cond:
            self.cond.wait_for(lambda: channel.get_id() in self.commands, timeout=10)
            return self.commands.get(channel.get_id())


def serve_channel(mode, server, channel):
    command = server.command_of(channel)
    if command is None:
        channel.close()
        return
    done = subprocess.run(["/bin/sh", "-c", command], capture_output=True, timeout=10)
    if mode == "nostatus":
        channel.sendall(done.stdout)
        channel.sendall_stderr(done.stderr)
    elif mode == "whole":
        channel.sendall(done.stdout)
        channel.sendall_stderr(done.stderr)
        channel.send_exit_status(done.returncode)
    elif mode == "truncate":
        channel.sendall(done.stdout[: len(done.stdout) // 2])
        channel.sendall_stderr(done.stderr[: len(done.stderr) // 2])
        channel.send_exit_status(0)
    channel.close()


def handle(mode, sock, host_key):
    transport = paramiko.Transport(sock)
    transport.add_server_key(host_key)
    server = Server()
    try:
        transport.start_server(server=server)
    except Exception:
        return
    while transport.is_active():
        channel = transport.accept(30)
        if channel is None:
            break
        threading.Thread(target=serve_channel, args=(mode, server, channel), daemon=True).start()


def main():
    mode, portfile = sys.argv[1], sys.argv[2]
    host_key = paramiko.ECDSAKey.generate()
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    with open(portfile + ".tmp", "w") as f:
        f.write(str(listener.getsockname()[1]))
    os.rename(portfile + ".tmp", portfile)
    while True:
        sock, _ = listener.accept()
        threading.Thread(target=handle, args=(mode, sock, host_key), daemon=True).start()


if __name__ == "__main__":
    main()
