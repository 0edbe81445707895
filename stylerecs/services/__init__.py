"""Business rules: the only code that writes stylerecs rows or enqueues tasks."""
