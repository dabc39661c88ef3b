"""``python -m allen_viewer`` is the same as the ``allen-viewer`` command."""
import sys

from allen_viewer.cli import main

sys.exit(main())
