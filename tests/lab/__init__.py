"""Helpers for ``tests/test_lab.py``: drive the course in a real JupyterLab with Playwright.

- ``server``: a JupyterLab on 127.0.0.1, an OS-chosen port and a random token, serving copies
  of the chapters, started with the worktree's package on ``PYTHONPATH`` and always stopped.
- ``notebook``: one open chapter in the browser (run all, restart, add a cell) and
  what its cells show (errors, widgets), read from JupyterLab's own notebook model.
- ``interrupt``: interrupt the kernel a set time into one cell, timed by a hook inside the
  kernel that marks the cell's start, through the request the toolbar's button makes.
- ``presses``: widgets with a button a reader presses, and what must change afterwards.
"""
