"""The roster sync engine: setup, selection, conflicts, a pure plan, a journaled apply.

Data flows one way: Roster -> candidates (``selection``) -> conflicts (``conflicts``) -> SyncPlan
(``plan``) -> store (``apply``). ``service`` is the facade the CLI and the wizard call.
"""
