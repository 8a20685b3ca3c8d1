"""Put on PYTHONPATH, this makes a Linux Python look like one on a student's laptop: what
Windows lacks (fcntl, resource, termios, pty, pwd, grp, os.fork, select.poll) and what
macOS lacks (SOCK_SEQPACKET Unix sockets) is gone before anything else is imported, in
this process and in every Python it starts. tests/test_student_*.py run the student
runner like this."""
import os
import select
import socket
import sys

for _name in ("fcntl", "resource", "termios", "pty", "pwd", "grp"):
    sys.modules[_name] = None   # `import fcntl` now raises ImportError
for _module, _attr in ((socket, "SOCK_SEQPACKET"), (os, "fork"), (os, "forkpty"), (os, "setsid"),
                       (os, "sched_setaffinity"), (select, "poll"), (select, "epoll")):
    if hasattr(_module, _attr):
        delattr(_module, _attr)
