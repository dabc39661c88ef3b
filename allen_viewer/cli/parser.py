"""The ``allen-viewer`` parser: the top-level options and each command group's commands,
registered in the order ``--help`` lists them (tests/test_cli_help.py walks it)."""
from __future__ import annotations

import argparse

from allen_viewer import __version__
from allen_viewer.config import PROG


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Browse and export Allen Mouse Brain Atlas ISH gene expression. "
                    "With no command, opens the viewer.",
        epilog="Environment: ALLEN_VIEWER_OFFLINE=1 (embedded data and cache only), ALLEN_VIEWER_CACHE "
               "(cache directory), ALLEN_VIEWER_SETTINGS (the viewer's settings file), ALLEN_API_URL, "
               "ALLEN_DOWNLOAD_URL (service addresses). Each command's options: COMMAND --help. "
               f"The user guide, installed with the program: `{PROG} guide` prints where it is, "
               f"`{PROG} guide --open` opens it in the web browser.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--offline", action="store_true",
                        help="never use the network (same as ALLEN_VIEWER_OFFLINE=1); without it the viewer "
                             "checks the network in the background at start-up")
    from allen_viewer.cli.viewing import add_viewing_options

    add_viewing_options(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    from allen_viewer.cli.experiments import add_experiment_commands, add_reference_commands
    from allen_viewer.cli.export import add_export_commands
    from allen_viewer.cli.library import add_library_commands
    from allen_viewer.cli.tissue import add_tissue_commands

    add_experiment_commands(sub)
    add_export_commands(sub)
    add_reference_commands(sub)
    add_library_commands(sub)
    add_tissue_commands(sub)
    return parser
