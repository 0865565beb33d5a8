"""The workspace jail: the one directory tree the file tools may touch.

Paths come from an LLM's plan, so every one of them is untrusted. All file tools go through
:meth:`Workspace.resolve`, which decides on the *real* location of a path (symlinks followed,
``..`` collapsed) rather than on its spelling, because a symlink inside the tree can point
anywhere. Absolute paths are not refused as such: models often echo back the absolute paths they
were shown, and refusing those would only cost a planning round.

The check is made when a path is resolved; a process that swaps directories for symlinks between
the check and the use can still race it. The jail guards against a confused model, not against a
hostile local user.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from pathlib import Path


class WorkspaceEscape(PermissionError):
    """A path that would leave the workspace; the message is written for the model to read."""


class Workspace:
    """A directory tree that tool paths are confined to.

    The root is resolved once, so that symlinks in the root's own ancestry (``/tmp`` on macOS,
    for instance) do not make every path inside it look like an escape.
    """

    def __init__(self, root: Path | str) -> None:
        given = Path(root).expanduser()
        if not given.exists():
            raise ValueError(f"Workspace root '{given}' does not exist.")
        if not given.is_dir():
            raise ValueError(f"Workspace root '{given}' is not a directory.")
        self.root: Path = given.resolve(strict=True)
        # Kept for telling "absolute path outside the root" from "escapes through a symlink"
        # when the caller spelled the root through a symlink.
        self._given_root = Path(os.path.abspath(given))

    def __repr__(self) -> str:
        return f"Workspace({str(self.root)!r})"

    def _inside(self, path: Path) -> bool:
        return path == self.root or path.is_relative_to(self.root)

    def resolve(self, path: str | Path, *, must_exist: bool = False) -> Path:
        """Map a tool's path argument to the real path it designates inside the workspace.

        The result has every symlink resolved, so callers act on the file the check approved and
        writes replace a link's target rather than the link.
        """
        text = os.fspath(path)
        if "\0" in text:
            raise WorkspaceEscape(
                f"Refused path {text!r}: it contains a NUL byte. "
                f"Paths must name files inside the workspace root '{self.root}'."
            )
        raw = Path(text)
        candidate = raw if raw.is_absolute() else self.root / raw
        real = Path(os.path.realpath(candidate))
        # A symlink loop stops realpath early and leaves the rest unresolved, '..' included;
        # such a path cannot be judged, so it is refused rather than guessed at.
        if ".." in real.parts:
            raise WorkspaceEscape(
                f"Refused path '{text}': it runs into a symlink loop. "
                f"The workspace root is '{self.root}'."
            )
        if not self._inside(real):
            raise WorkspaceEscape(
                f"Refused path '{text}': {self._why_outside(raw, candidate, real)}. "
                f"Only paths inside the workspace root '{self.root}' are allowed."
            )
        if must_exist and not os.path.lexists(real):
            raise FileNotFoundError(
                f"No such file or directory in the workspace: '{self.relative(real)}'."
            )
        return real

    def _why_outside(self, raw: Path, candidate: Path, real: Path) -> str:
        lexical = Path(os.path.normpath(candidate))
        lexically_inside = any(
            lexical == root or lexical.is_relative_to(root)
            for root in (self.root, self._given_root)
        )
        if lexically_inside:
            return f"a symlink in it leads outside the workspace (to '{real}')"
        if raw.is_absolute() and ".." not in raw.parts:
            return "it is an absolute path outside the workspace"
        return "'..' leads outside the workspace"

    def relative(self, path: Path) -> str:
        """How a path is shown to the model: relative to the root, so it can be passed back."""
        p = Path(path)
        if not p.is_absolute():
            p = self.root / p
        for base in (self.root, self._given_root):
            with contextlib.suppress(ValueError):
                return p.relative_to(base).as_posix()
        return p.as_posix()

    def atomic_write(self, path: Path, data: str, *, encoding: str = "utf-8") -> None:
        """Replace a file's content so that readers see either the old or the new text.

        A crash or a full disk halfway through a plain ``write`` would leave a truncated file in
        the user's project; writing a sibling temp file and renaming it over the target cannot.
        The sibling lives in the same directory because ``os.replace`` is only atomic within one
        filesystem.
        """
        target = self.resolve(path)
        if target.is_dir():
            raise IsADirectoryError(
                f"'{self.relative(target)}' is a directory; a file path is needed."
            )
        payload = data.encode(encoding)  # fail on unencodable text before touching the disk
        mode: int | None = None
        with contextlib.suppress(FileNotFoundError):
            mode = stat.S_IMODE(target.stat().st_mode)
        # resolve() has vetted the whole path, and directories that do not exist yet cannot be
        # symlinks, so creating them keeps us inside the root.
        target.parent.mkdir(parents=True, exist_ok=True)

        tmp, fd = self._open_temp(target)
        try:
            try:
                view = memoryview(payload)
                while view:
                    written = os.write(fd, view)
                    view = view[written:]
                os.fsync(fd)
            finally:
                os.close(fd)
            if mode is not None:
                os.chmod(tmp, mode)
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        _fsync_dir(target.parent)

    @staticmethod
    def _open_temp(target: Path) -> tuple[Path, int]:
        """Create the temp file with mode 0o666 so the umask decides a new file's permissions,
        as it would for any editor; ``mkstemp`` would force 0o600."""
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
        for _ in range(100):
            tmp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
            try:
                return tmp, os.open(tmp, flags, 0o666)
            except FileExistsError:
                continue
        raise FileExistsError(f"Could not create a temporary file next to '{target.name}'.")


def _fsync_dir(directory: Path) -> None:
    """Persist the rename itself; best effort, since not every platform can open directories."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)
