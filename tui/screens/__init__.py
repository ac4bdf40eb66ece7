"""The wizard's screens: one per step of the sync, and the screens beside the flow."""
