"""The factsync Textual wizard: one screen per step of a sync, keyboard-first.

Screens call ``core``'s service functions (blocking store calls in thread workers, FACTS calls in
workers with their own event loop); nothing in ``tui`` speaks SQL or HTTP.
"""
