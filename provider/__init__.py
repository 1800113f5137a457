"""The component package's plugin directory: a package only so that type checkers tell its __main__ from the stack's."""
