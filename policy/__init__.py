"""selfhost's policy pack: `pulumi preview --policy-pack policy` (see docs/security.md)."""
