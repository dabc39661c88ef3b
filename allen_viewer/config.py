"""Run-time settings taken from the environment, and the user's directories.

Environment variables (read each time a function is called, so tests can change them):

``ALLEN_API_URL``        base of the RMA/grid API (default ``https://api.brain-map.org``)
``ALLEN_DOWNLOAD_URL``   base of the large reference files (default the Allen
                         ``informatics-archive/current-release``)
``ALLEN_VIEWER_CACHE``   cache directory (default the platform's user cache dir)
``ALLEN_VIEWER_OFFLINE`` ``1``/``true``/``yes``: never touch the network; embedded data and
                         cache only
"""
from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "allen_viewer"
PROG = "allen-viewer"
"""The program's name, as typed: the console script, ``usage:`` lines, ``allen-viewer: error: ...``."""
EXPERIMENT_PAGE_URL = "https://mouse.brain-map.org/experiment/show/{id}"
"""An ISH experiment's page on the Allen Mouse Brain Atlas web site."""
DEFAULT_API_URL = "https://api.brain-map.org"
DEFAULT_DOWNLOAD_URL = "https://download.alleninstitute.org/informatics-archive/current-release"


def api_url() -> str:
    return _checked_url("ALLEN_API_URL", DEFAULT_API_URL)


def download_url() -> str:
    return _checked_url("ALLEN_DOWNLOAD_URL", DEFAULT_DOWNLOAD_URL)


def _checked_url(name: str, default: str) -> str:
    """The environment's URL ``name``: an http(s) URL with a host, else one
    :class:`~allen_viewer.errors.AllenViewerError` line naming the variable (credentials
    in it masked), never a ``ValueError`` from deep inside a request."""
    import urllib.parse

    url = os.environ.get(name, default).strip().rstrip("/")
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018 -- a port that is not a number raises here
        ok = parts.scheme in ("http", "https") and bool(parts.hostname)
        why = "" if ok else "not an http:// or https:// address with a host"
    except ValueError as exc:
        ok, why = False, str(exc)
    if not ok:
        from allen_viewer.errors import AllenViewerError
        from allen_viewer.sanitize import clean_text

        raise AllenViewerError(f"{name}={clean_text(url, 120)!r} is not a usable address ({why}); fix or unset it.")
    return url


def public_url(url: str) -> str:
    """``url`` as it may be written into a file or printed: user name and password masked."""
    from allen_viewer.sanitize import mask_credentials

    return mask_credentials(url)


def experiment_page(experiment_id) -> str:
    """The Allen web page of experiment ``experiment_id`` (:data:`EXPERIMENT_PAGE_URL`)."""
    return EXPERIMENT_PAGE_URL.format(id=experiment_id)


def offline() -> bool:
    return os.environ.get("ALLEN_VIEWER_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


def cache_dir() -> Path:
    override = os.environ.get("ALLEN_VIEWER_CACHE")
    return Path(override).expanduser() if override else Path(platformdirs.user_cache_dir(APP_NAME))


def resources_dir() -> Path:
    """The embedded data: ``allen_viewer/resources`` in an installed wheel, ``resources/`` in a checkout."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "resources", here.parent / "resources"):
        if (candidate / "structure_graph_1.json").is_file():
            return candidate
    raise FileNotFoundError(f"embedded resources not found next to {here}")
