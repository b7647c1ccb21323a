"""Drop numba's cached kernels when any kernel source file changes.

numba's ``cache=True`` rebuilds a cached function only when its own source
file changes. A kernel that calls a helper from another module (every
algorithm calls the simulator) would otherwise keep running the old helper
after an edit. This module stamps the cache with a hash of every kernel
source file and clears the cached kernels when the hash differs.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent
_STAMP_NAME = "kvbook-kernels.sha256"


def refresh_kernel_cache(package: Path = _PACKAGE) -> bool:
    """Delete numba's cached kernels if a kernel source changed; return whether.

    Only numba's default cache location (``__pycache__`` beside the sources)
    is handled; with ``NUMBA_CACHE_DIR`` set, clear that folder by hand after
    editing a kernel. A read-only installation is left alone.
    """
    if os.environ.get("NUMBA_CACHE_DIR"):
        return False
    sources = sorted([package / "_sim.py", *(package / "algorithms").glob("*.py")])
    digest = hashlib.sha256()
    for path in sources:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    expected = digest.hexdigest()
    stamp = package / "__pycache__" / _STAMP_NAME
    try:
        if stamp.read_text() == expected:
            return False
    except OSError:
        pass
    try:
        for folder in (package / "__pycache__", package / "algorithms" / "__pycache__"):
            for pattern in ("*.nbi", "*.nbc"):
                for cached in folder.glob(pattern):
                    cached.unlink(missing_ok=True)
        stamp.parent.mkdir(exist_ok=True)
        stamp.write_text(expected)
    except OSError:
        return False
    return True
