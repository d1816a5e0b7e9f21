"""Where a defect of gosvc's own leaves its traceback: a file the one-line message points to."""

from __future__ import annotations

import os
import tempfile
import time
import traceback
from pathlib import Path

from generator.runtime.user_cache import cache_folder


def folder() -> Path:
    return cache_folder("logs")


def write_crash_log(what: str, error: BaseException) -> Path:
    """Write the traceback of `error` (raised while doing `what`) to a new log file and return its path; where no
    log can be written, a temporary file serves."""
    text = f"gosvc failed while {what}\n\n" + "".join(traceback.format_exception(error))
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for place in (folder(), Path(tempfile.gettempdir())):
        try:
            place.mkdir(parents=True, exist_ok=True)
            handle, name = tempfile.mkstemp(prefix=f"gosvc-{stamp}-", suffix=".log", dir=place)
            with os.fdopen(handle, "w", encoding="utf-8") as log:
                log.write(text)
            return Path(name)
        except OSError:
            continue
    raise OSError("no folder to write a log in")
