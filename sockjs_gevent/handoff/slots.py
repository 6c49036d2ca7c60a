"""Numbered worker slots on one machine: a lock file and a Unix socket per slot, in a private directory.

A worker holds a slot while it holds an exclusive ``flock`` on the slot's
lock file; the kernel releases it when the process exits, however it
exits, so a restarted worker takes a dead one's slot back, and a worker
started while every slot is held (a reload, gunicorn's USR2 upgrade) waits
for one. The directory is named after the addresses the workers listen
on, so every worker serving one port (old and new generations alike)
finds the same slots; it must belong to this user and be closed to
others, since whoever can write the sockets can hand the workers
connections.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import os
import stat
import tempfile
from collections.abc import Iterable

#: Environment variable naming the directory (default: a private one under the temp dir).
DIRECTORY_ENV = "SOCKJS_GEVENT_HANDOFF_DIR"
#: sockaddr_un's path limit on Linux, less the terminating NUL.
_MAX_SOCKET_PATH = 107


class SlotError(RuntimeError):
    """The slot directory cannot be used (wrong owner, open to others, path too long)."""


def default_directory(addresses: Iterable[str]) -> str:
    """The slot directory of workers listening on ``addresses`` (``$SOCKJS_GEVENT_HANDOFF_DIR`` if set)."""
    given = os.environ.get(DIRECTORY_ENV)
    if given:
        return given
    key = hashlib.sha1("\n".join(sorted(addresses)).encode()).hexdigest()[:16]
    return os.path.join(tempfile.gettempdir(), f"sockjs-gevent-{os.getuid()}", key)


def _private_directory(path: str) -> None:
    """Create ``path`` (and its parent) as 0700 directories of this user, or refuse one that is not."""
    for directory in (os.path.dirname(path), path):
        try:
            os.mkdir(directory, 0o700)
        except FileExistsError:
            pass
        except FileNotFoundError:
            os.makedirs(directory, 0o700, exist_ok=True)
        info = os.lstat(directory)
        if not stat.S_ISDIR(info.st_mode):
            raise SlotError(f"{directory} is not a directory; set {DIRECTORY_ENV} to a private directory")
        if info.st_uid != os.getuid() or info.st_mode & 0o077:
            raise SlotError(
                f"{directory} must belong to this user and be closed to others (chmod 700); "
                f"or set {DIRECTORY_ENV} to a private directory"
            )


class Slots:
    """The ``count`` slots of one directory; ``claim()`` takes a free one for this process."""

    def __init__(self, directory: str, count: int) -> None:
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ValueError(f"the number of slots must be an integer >= 1, got {count!r}")
        self.directory = directory
        self.count = count
        if len(self.socket_path(count - 1)) > _MAX_SOCKET_PATH:
            raise SlotError(f"{directory} is too long for a Unix socket path; set {DIRECTORY_ENV} to a shorter one")
        _private_directory(directory)
        self.held: int | None = None
        self._lock_fd: int | None = None

    def socket_path(self, slot: int) -> str:
        return os.path.join(self.directory, f"slot-{slot}.sock")

    def _lock_path(self, slot: int) -> str:
        return os.path.join(self.directory, f"slot-{slot}.lock")

    def claim(self) -> int | None:
        """Take the first free slot and return it; None when every slot is held."""
        if self.held is not None:
            return self.held
        for slot in range(self.count):
            fd = os.open(self._lock_path(slot), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                os.close(fd)
                if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                    continue
                raise
            self.held, self._lock_fd = slot, fd
            return slot
        return None

    def release(self) -> None:
        """Give the slot up (its socket file is removed first, so no peer connects to a worker on its way out)."""
        if self.held is None or self._lock_fd is None:
            return
        try:
            os.unlink(self.socket_path(self.held))
        except FileNotFoundError:
            pass
        os.close(self._lock_fd)  # closing the only descriptor drops the flock
        self.held = self._lock_fd = None
