"""Print one of the README's two commands, exactly as the file has it.

    python3 tools/readme_commands.py setup   # the command that sets everything up
    python3 tools/readme_commands.py test    # the command that runs the tests

``.ci/run`` runs what this prints, so CI runs the README's commands literally and the README
cannot drift from what CI does. The commands are the two ``sh`` code blocks under the
"## Two commands" heading; each is one line. Standard library only (runs before any install).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"
HEADING = "## Two commands"


def commands(text: str) -> dict[str, str]:
    start = text.index(HEADING)
    end = text.find("\n## ", start + len(HEADING))
    section = text[start : end if end != -1 else None]
    blocks = re.findall(r"```sh\n(.*?)\n```", section, flags=re.S)
    if len(blocks) != 2 or any("\n" in b.strip() for b in blocks):
        raise ValueError(f"{HEADING!r} must hold exactly two one-line sh blocks")
    return {"setup": blocks[0].strip(), "test": blocks[1].strip()}


def main(argv: list[str]) -> int:
    if len(argv) != 1 or argv[0] not in ("setup", "test"):
        print("usage: readme_commands.py setup|test", file=sys.stderr)
        return 2
    print(commands(README.read_text(encoding="utf-8"))[argv[0]])
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
