"""Documents generated from the code, so they cannot drift from it (``python -m docsgen --write | --check``).

- README.md's config reference and Pulumi.yaml's ``config:`` block, from the settings models
  (config/reference.py): one source of every key's description;
- docs/components.md, each component's inputs and outputs, from the committed package schema;
- docs/architecture.md, a Mermaid diagram of what the program registers for the dev stack under
  Pulumi's mocks (tests/mockstack.py runs the real ``__main__.py`` with ``Pulumi.dev.yaml``).

tests/test_docs_generated.py runs the check, so CI fails when a committed file differs.
"""
