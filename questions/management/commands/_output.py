"""Shared by the export commands: write bytes to a file (atomically) or to standard output."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError


def check_output_path(path: str | None) -> None:
    """Fail before any work when the file cannot be written where asked."""
    if path and path != "-" and not Path(path).parent.is_dir():
        raise CommandError(f"Directory {Path(path).parent} does not exist.")


def write_output(command: BaseCommand, path: str | None, data: bytes) -> None:
    if not path or path == "-":
        stream = getattr(command.stdout, "_out", sys.stdout)
        buffer = getattr(stream, "buffer", None)
        if buffer is not None:
            buffer.write(data)
            buffer.flush()
        else:
            stream.write(data.decode("utf-8"))
        return
    check_output_path(path)
    target = Path(path)
    try:
        handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        # mkstemp makes the file private (0600); an export gets the usual permissions.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)
        os.replace(temporary, target)
    except OSError as error:
        raise CommandError(f"Cannot write {path}: {error.strerror or error}") from error
