#!/usr/bin/python3
"""qmp-dump.py SOCKET OUT: QMP dump-guest-memory of a running QEMU into OUT (ELF), then quit.

Used by scripts/make-vmcore-arm64.sh for the profile whose core is NOT from kdump. paging=false:
QEMU writes the guest-physical memory as PT_LOADs and, with -device vmcoreinfo, the guest's
VMCOREINFO note (the guest must have loaded qemu_fw_cfg). The guest is stopped first so the
memory does not change while it is written.
"""
import json
import os
import socket
import sys
import time


def command(sock_file, name, **arguments):
    msg = {"execute": name}
    if arguments:
        msg["arguments"] = arguments
    sock_file.write(json.dumps(msg) + "\n")
    sock_file.flush()
    while True:
        reply = json.loads(sock_file.readline())
        if "return" in reply:
            return reply["return"]
        if "error" in reply:
            sys.exit(f"QMP {name}: {reply['error']}")
        # Asynchronous events (STOP, DUMP_COMPLETED...) are skipped.


def main():
    sock_path, out = sys.argv[1], os.path.abspath(sys.argv[2])
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(sock_path)
    f = sock.makefile("rw")
    json.loads(f.readline())  # greeting
    command(f, "qmp_capabilities")
    command(f, "stop")
    t0 = time.time()
    command(f, "dump-guest-memory", paging=False, protocol="file:" + out)
    print(f"dump-guest-memory: {os.path.getsize(out)} bytes in {time.time() - t0:.1f} s",
          file=sys.stderr)
    try:
        command(f, "quit")
    except (json.JSONDecodeError, ConnectionError):
        pass  # QEMU may close the socket before replying


if __name__ == "__main__":
    main()
