"""``UserError``: the error every ``facility`` sub-command raises for a user mistake.

The command itself (``main``, the parser) lives on the top floor, in ``runtime/cli.py``.
"""

from __future__ import annotations


class UserError(Exception):
    """An error the user can fix; printed as one sentence, exit code 2, no traceback."""
