"""selfhost's Pulumi components: import them into any stack."""
