"""Text as the merges read it: decoded, with its line endings set aside, and git's own line merge over it."""

from __future__ import annotations

import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

CRLF, LF = "\r\n", "\n"


@dataclass(frozen=True)
class Text:
    """A file's content with LF line endings, and the line ending it had."""

    body: str
    newline: str

    @classmethod
    def decoded(cls, content: bytes) -> Text | None:
        """None for what is not text a merge can take apart: binary, not UTF-8, or mixing CRLF and LF lines."""
        if b"\0" in content:
            return None
        try:
            text = content.decode("utf-8")
        except UnicodeDecodeError:
            return None
        crlf = text.count(CRLF)
        if crlf and crlf != text.count(LF):
            return None
        return cls(text.replace(CRLF, LF), CRLF if crlf else LF)

    def encoded(self, body: str) -> bytes:
        """`body` (LF line endings) written with this text's line endings."""
        return body.replace(LF, self.newline).encode("utf-8")


def line_merge(base: str, ours: str, theirs: str) -> str | None:
    """git merge-file's result of the three texts, or None when it leaves a conflict."""
    with tempfile.TemporaryDirectory(prefix="gosvc-merge-") as folder:
        paths = [Path(folder, name) for name in ("ours", "base", "theirs")]
        for path, body in zip(paths, (ours, base, theirs), strict=True):
            path.write_bytes(body.encode("utf-8"))
        result = subprocess.run(["git", "merge-file", "-p", *map(str, paths)], capture_output=True, check=False)
    if result.returncode != 0:
        return None
    return result.stdout.decode("utf-8")
