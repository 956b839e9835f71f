"""Makes `import NAME` fail for the modules named in EPOCHJUMP_BLOCKED_MODULES.

Put this folder first on PYTHONPATH (`isolation.env_without`) and the
process behaves as if those packages were not installed: the same
`ImportError`, for the package and each of its submodules.
"""

import os
import sys

BLOCKED = frozenset(
    filter(None, os.environ.get("EPOCHJUMP_BLOCKED_MODULES", "").split(","))
)


class _Blocker:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


if BLOCKED:
    sys.meta_path.insert(0, _Blocker())
