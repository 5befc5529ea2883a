"""The ``tailguard`` command line.

``tailguard run``      run the curation pipeline (``--config``, ``--input``, ``--output``, Beam flags)
``tailguard demo``     generate the embedded sample and run the full pipeline on it

Each command lives in its own module and is imported only when used, so
``tailguard --help`` stays fast.  Configuration problems exit with status 2 and
a one-line message naming the bad key; an unbalanced ledger exits with 3.
"""

from __future__ import annotations

import importlib
import logging
import sys
from collections.abc import Sequence

__all__ = ["COMMANDS", "main"]

# command -> (module, function, one-line help)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "run": ("tailguard.pipelines.curate", "run", "run the curation pipeline on your inputs"),
    "demo": ("tailguard.pipelines.demo", "run_demo", "run the whole pipeline on the embedded sample"),
    "finalize": (
        "tailguard.pipelines.curate",
        "finalize",
        "write manifest + report after a job submitted without waiting",
    ),
    "detector": ("tailguard.pipelines.detector_training", "run_detector", "train / evaluate the AI-text detector"),
    "reference": ("tailguard.pipelines.reference_cli", "run_reference", "build a collapse reference snapshot"),
    "collapse-bench": ("tailguard.pipelines.collapse_bench", "run_bench", "recursive-training collapse benchmark"),
    "report": ("tailguard.pipelines.compare", "run_report", "compare collapse indicators across runs"),
}


def _usage() -> str:
    lines = ["usage: tailguard COMMAND [options]", "", "commands:"]
    lines += [f"  {name:<16}{help_text}" for name, (_, _, help_text) in COMMANDS.items()]
    lines += ["", "`tailguard COMMAND --help` shows the options of one command."]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Dispatch ``tailguard COMMAND ...``; returns the exit code (also used by tests)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help", "help"):
        print(_usage())
        return 0
    command, rest = args[0], args[1:]
    if command not in COMMANDS:
        print(f"tailguard: unknown command {command!r}\n\n{_usage()}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S"
    )
    for noisy in ("apache_beam", "urllib3", "google"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    module_name, func_name, _ = COMMANDS[command]
    from tailguard.filters.errors import ConfigError

    try:
        func = getattr(importlib.import_module(module_name), func_name)
        return int(func(rest) or 0)
    except ConfigError as exc:
        print(f"tailguard {command}: configuration error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
