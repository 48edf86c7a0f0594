"""Whether a process still runs: what decides that a ``*.tmp-PID`` file or folder is a killed writer's leftover."""

from __future__ import annotations

import os


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` runs (or may: another user's); this process counts as alive.

    Run folders, the prepared cache and published folders remove only the temp files of processes that are
    gone, so a writer that is still at work never loses its file. Process ids are per host: on a file system
    shared between hosts another host's live writer would look gone.
    """
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists but is someone else's, or cannot tell: keep its files
        return True
    return True
