"""Files that hold readers' addresses or live tokens, created owner-only whatever the umask.

The database, outbox messages, roster files digest creates and exports are 0600, and the
folders digest creates for them 0700. Files and folders that already exist keep their modes
(the operator may have chosen them), except a file that digest rewrites whole.
"""

from __future__ import annotations

import os
from pathlib import Path

FILE_MODE = 0o600
DIR_MODE = 0o700


def private_dir(path: Path) -> None:
    """Create ``path`` and its missing parents as 0700; existing folders are left alone."""
    missing: list[Path] = []
    folder = path
    while not folder.exists():
        missing.append(folder)
        if folder.parent == folder:
            break
        folder = folder.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=DIR_MODE)
        except FileExistsError:
            continue


def private_opener(path: str | os.PathLike[str], flags: int) -> int:
    """An ``opener`` for :func:`open` that makes the file owner-only, new or not."""
    fd = os.open(path, flags, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)
    except BaseException:
        os.close(fd)
        raise
    return fd


def create_private(path: Path) -> None:
    """Create ``path`` empty and owner-only unless it exists (then it is left untouched)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        return
    os.close(fd)


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path``, owner-only even if a wider file was left there."""
    with open(path, "wb", opener=private_opener) as f:
        f.write(data)
