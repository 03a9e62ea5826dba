"""``wcs-forecast bulletin``: validate and render bulletins (see :mod:`forecast.bulletin`).

Wiring into :mod:`forecast.cli`::

    from forecast.bulletincli import add_bulletin_parser
    add_bulletin_parser(sub, [common])      # sub: the top-level subparsers; common: --config

Commands (each sets ``func``; it returns the exit code):

- ``bulletin validate FILE...`` — exit 0 when every file is a valid bulletin, 3 otherwise; each
  problem is printed as ``FILE: ... $.json.path: message``.
- ``bulletin render FILE --format {cap,text,html,png} [--format ...] [--out DIR]`` — text goes
  to standard output without ``--out``; the other formats are written into ``--out`` (default:
  the current folder). An invalid bulletin raises
  :class:`~forecast.bulletin.json_io.BulletinValidationError` (an ``InputError``: exit 3).
- ``bulletin example --out DIR`` — write the synthetic example bulletin (and the previous one it
  references) as JSON, for demonstrations.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

EXIT_OK, EXIT_INPUT = 0, 3
RENDER_FORMATS = ("cap", "text", "html", "png")


def cmd_validate(args: argparse.Namespace) -> int:
    from forecast.bulletin.json_io import BulletinValidationError, validate_bulletin

    bad = 0
    for name in args.files:
        try:
            doc = validate_bulletin(Path(name))
        except BulletinValidationError as exc:
            bad += 1
            print(f"error: {exc}", file=sys.stderr)
            continue
        print(f"{name}: valid bulletin {doc['id']} (revision {doc['revision']})")
    if bad:
        print(f"{bad} of {len(args.files)} file(s) invalid", file=sys.stderr)
        return EXIT_INPUT
    return EXIT_OK


def _areas(args: argparse.Namespace) -> Any:
    if not getattr(args, "config", None):
        return None
    from forecast.bulletin.cap import areas_from_config
    from forecast.config import load_config

    return areas_from_config(load_config(args.config))


def cmd_render(args: argparse.Namespace) -> int:
    from forecast.bulletin.json_io import load_bulletin
    from forecast.bulletin.outputs import write_outputs
    from forecast.bulletin.text import render_text

    bulletin = load_bulletin(Path(args.file))
    formats = list(dict.fromkeys(args.format))
    if formats == ["text"] and args.out is None:
        sys.stdout.write(render_text(bulletin))
        return EXIT_OK
    out = Path(args.out or ".")
    areas = _areas(args)
    if areas is not None and "cap" in formats:
        from forecast.bulletin.cap import write_cap

        paths = write_cap(bulletin, out, sender=args.sender, status=args.status, areas=areas)
        formats.remove("cap")
    else:
        paths = []
    paths += write_outputs(bulletin, out, formats, sender=args.sender, cap_status=args.status)
    for p in paths:
        print(f"wrote {p}")
    return EXIT_OK


def cmd_example(args: argparse.Namespace) -> int:
    from forecast.bulletin.examples import example_bulletin, example_previous_bulletin
    from forecast.bulletin.json_io import write_bulletin

    out = Path(args.out)
    for b in (example_previous_bulletin(), example_bulletin()):
        print(f"wrote {write_bulletin(b, out / f'{b.id}.json')}")
    return EXIT_OK


def add_bulletin_parser(
    subparsers: Any, parents: Sequence[argparse.ArgumentParser] = ()
) -> argparse.ArgumentParser:
    """Add the ``bulletin`` command to ``subparsers``; ``parents`` supply ``--config``."""
    from forecast.bulletin.cap import CAP_STATUSES, DEFAULT_SENDER

    parser = subparsers.add_parser(
        "bulletin",
        help="validate and render forecast/warning bulletins (JSON → CAP, text, HTML, PNG)",
        description="Validate bulletin JSON files against the bulletin schema, or render one "
        "bulletin as CAP 1.2 alerts, plain text, a self-contained HTML page or PNG plots.",
    )
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

    val = sub.add_parser(
        "validate",
        parents=list(parents),
        help="check bulletin JSON files (exit 3 naming file and JSON path when invalid)",
    )
    val.add_argument("files", nargs="+", metavar="FILE", help="bulletin JSON files")
    val.set_defaults(func=cmd_validate)

    ren = sub.add_parser("render", parents=list(parents), help="render one bulletin")
    ren.add_argument("file", metavar="FILE", help="bulletin JSON file")
    ren.add_argument(
        "--format",
        required=True,
        action="append",
        choices=RENDER_FORMATS,
        help="output format (repeat for several)",
    )
    ren.add_argument(
        "--out",
        metavar="DIR",
        help="output folder (default: standard output for text, else the current folder)",
    )
    ren.add_argument(
        "--sender", default=DEFAULT_SENDER, help=f"CAP sender (default {DEFAULT_SENDER})"
    )
    ren.add_argument(
        "--status",
        choices=CAP_STATUSES,
        help="CAP status (default: Exercise for synthetic bulletins, else Actual)",
    )
    ren.set_defaults(func=cmd_render)

    ex = sub.add_parser(
        "example", parents=list(parents), help="write the synthetic example bulletin as JSON"
    )
    ex.add_argument("--out", required=True, metavar="DIR")
    ex.set_defaults(func=cmd_example)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Stand-alone entry (``python -m forecast.bulletincli bulletin ...``) with the CLI's codes."""
    from forecast.errors import InputError

    parser = argparse.ArgumentParser(prog="wcs-forecast")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", metavar="CONFIG")
    add_bulletin_parser(sub, [common])
    args = parser.parse_args(argv)
    try:
        code: int = args.func(args)
    except (InputError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INPUT
    return code


if __name__ == "__main__":
    sys.exit(main())
