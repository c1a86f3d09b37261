"""Launching tasks: one place-and-record path for RunTask, StartTask and the controllers.

:mod:`.shape` (pure) says what one copy of a task is; :mod:`.placing` places copies with the scheduler
inside the caller's write transaction, debits the chosen instances and records the tasks.
"""
