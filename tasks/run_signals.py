"""Signals of the run core that features outside it listen to.

`run_closed` is sent with `run=` once a run has its final status (from `services.run_close`,
inside the transaction that stores the run's last steps: receivers that read the run's rows
should wait for `transaction.on_commit`). The trace export listens to it; the run core needs
to know nothing about its listeners.
"""

from __future__ import annotations

from django.dispatch import Signal

run_closed = Signal()
