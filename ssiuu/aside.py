"""Build aside, then replace: the report's rules write their outputs into a folder beside the published ones and
move them in only when every one of them was built, so a failed build leaves the published files as they were.

    python -m ssiuu.aside STAGE OUTPUT...

moves ``STAGE/<name of OUTPUT>`` onto each OUTPUT (one rename each: the folder is under the same root), then
any other file the build wrote in STAGE beside the first OUTPUT, and removes STAGE.
When one OUTPUT was not built, nothing moves: the one line on stderr names it.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path


class AsideError(RuntimeError):
    """A build that did not write every output it declares."""


def publish(stage: str | Path, outputs: Sequence[str | Path]) -> list[Path]:
    """Move every output built in ``stage`` onto its place, only if all were built; return the moved paths."""
    stage = Path(stage)
    staged = {Path(out): stage / Path(out).name for out in outputs}
    missing = sorted(src.name for src in staged.values() if not src.is_file())
    if missing:
        raise AsideError(
            f"{stage}: the build wrote no {', '.join(missing)}; the published files are left as they were"
        )
    extra_dir = next(iter(staged)).parent
    extras = {
        extra_dir / f.name: f for f in sorted(stage.iterdir()) if f.is_file() and f not in staged.values()
    }
    moved = []
    for out, src in {**staged, **extras}.items():
        out.parent.mkdir(parents=True, exist_ok=True)
        os.replace(src, out)
        moved.append(out)
    shutil.rmtree(stage)
    return moved


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) < 2:
        print("usage: python -m ssiuu.aside STAGE OUTPUT...", file=sys.stderr)
        return 2
    try:
        moved = publish(args[0], args[1:])
    except (AsideError, OSError) as err:
        print(f"ssiuu aside: error: {err}", file=sys.stderr)
        return 1
    print(f"{len(moved)} file(s) built in {args[0]} replaced the published ones")
    return 0


if __name__ == "__main__":
    sys.exit(main())
