"""Fault-tolerance suite: one table of faults (``scenarios.py``), run by ``test_faults.py``
under pytest and by ``benchmarks/faults.py`` as a printed report (``docs/reliability.md``)."""
