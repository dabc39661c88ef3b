"""Opening the viewer: the top-level options (``--gene``, ``--compare``, ``--structure``,
``--session``, ``--screenshot``) and ``cmd_gui``, which imports the GUI only when it runs."""
from __future__ import annotations

from pathlib import Path

from allen_viewer.io.guard import check_output_path
from allen_viewer.model.screenshot import PARTS as SCREENSHOT_PARTS


def cmd_gui(args) -> int:
    from allen_viewer.gui.app import run_gui

    if args.screenshot is not None:  # before the window: an existing file, a FIFO, the session read
        check_output_path(args.screenshot, args.screenshot_force, reads=[args.session], make_folder=True)
    return run_gui(gene=args.gene, screenshot=args.screenshot, offline=args.offline, compare=args.compare,
                   structure=args.structure, session=args.session, force=args.screenshot_force,
                   part=args.part or "window")


def add_viewing_options(parser) -> None:
    """The options of ``allen-viewer`` with no command (the window)."""
    parser.add_argument("--gene", metavar="SYMBOL|ID", help="open the viewer on this gene or experiment")
    parser.add_argument("--compare", metavar="SYMBOL|ID", help="a second gene to compare with --gene")
    parser.add_argument("--structure", metavar="ACRONYM|ID",
                        help="select this structure (e.g. CP) and move the slices into it")
    parser.add_argument("--screenshot", metavar="FILE.png", type=Path,
                        help="with --gene or --session: render the window, save it to FILE.png (and the "
                             "session it shows to its sidecar FILE.png.json) and exit; an existing file is "
                             "refused unless --force")
    parser.add_argument("--part", choices=SCREENSHOT_PARTS, help="with --screenshot: save only this part of the "
                        "window: the 3-D view or one slice pane (default: the whole window)")
    parser.add_argument("--force", dest="screenshot_force", action="store_true",
                        help="with --screenshot: replace an existing FILE.png and its sidecar (a FILE.png.json "
                             "that allen_viewer did not write is never replaced)")
    parser.add_argument("--session", metavar="FILE", type=Path,
                        help="open a saved session (File > Save session), a sidecar (FILE.png.json) or an "
                             "exported image or screenshot, as it was saved: for FILE.png the PNG's own text "
                             "chunk is read, then FILE.png.json, then an older FILE.json (the first found wins)")


def check_viewing_options(parser, args) -> None:
    """Refuse combinations argparse cannot express (argparse's usage error, exit 2)."""
    if args.screenshot and not args.gene and not args.session:
        parser.error("--screenshot needs --gene or --session")
    if args.compare and not args.gene:
        parser.error("--compare needs --gene")
    if getattr(args, "screenshot_force", False) and not args.screenshot:
        parser.error("--force (before any command) needs --screenshot")
    if getattr(args, "part", None) and not args.screenshot:
        parser.error("--part needs --screenshot")
