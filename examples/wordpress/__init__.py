"""Package marker only: lets type checkers tell this example's __main__ from the stack's."""
