"""``allen-viewer --help`` is complete: every command and every option says what it does.

Walks the real argparse parser (:func:`allen_viewer.cli.parser.build_parser`), so a command added
later without help text fails here.
"""
from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from allen_viewer import cli
from allen_viewer.cli.parser import build_parser
from allen_viewer.config import PROG


def _walk(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    """Yield ``(command path, parser)`` for the parser and every sub-command, depth first."""
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _walk(sub, path + (name,))


def _commands():
    return [path for path, _ in _walk(build_parser())]


def _described(text) -> bool:
    return bool(text) and text is not argparse.SUPPRESS and len(str(text).strip()) >= 8


def test_there_are_commands_to_check():
    paths = _commands()
    for expected in [(), ("search",), ("export", "image"), ("compare",), ("download-reference",)]:
        assert expected in paths


def test_every_command_and_option_has_help_text():
    missing = []
    for path, parser in _walk(build_parser()):
        where = " ".join((PROG,) + path)
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                described = {a.dest: a.help for a in action._choices_actions}
                for name in action.choices:
                    if not _described(described.get(name)):
                        missing.append(f"{where} {name} (the command)")
                continue
            if isinstance(action, argparse._HelpAction):
                continue
            if not _described(action.help):
                missing.append(f"{where} {'/'.join(action.option_strings) or action.dest}")
    assert not missing, "no help text: " + ", ".join(missing)


def test_help_documents_the_environment_and_every_top_level_option(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for word in ("ALLEN_VIEWER_OFFLINE", "ALLEN_VIEWER_CACHE", "ALLEN_VIEWER_SETTINGS", "--offline", "--gene",
                 "--compare", "--structure", "--screenshot", "--version"):
        assert word in out, word


@pytest.mark.parametrize("path", _commands(), ids=lambda p: " ".join(p) or "allen-viewer")
def test_every_help_exits_0(path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main([*path, "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: allen-viewer")
    for word in path:
        assert word in out.splitlines()[0]


def test_help_runs_as_a_program():
    """The installed entry point's path (``python -m allen_viewer``), without a display."""
    result = subprocess.run([sys.executable, "-m", "allen_viewer", "export", "image", "--help"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "--transparent" in result.stdout and result.stderr == ""
