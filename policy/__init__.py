"""selfhost's policy pack: `pulumi preview --policy-pack policy` (rules: the README's Security section)."""
