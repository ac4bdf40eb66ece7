"""Widgets of the wizard: safe text, a windowed table, the parent subset grid, walkthrough."""
