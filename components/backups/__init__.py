"""Backups: every app's declared state (volumes, databases) into one restic repository per stack."""
