# Names vulture reports as unused but that are part of a signature the language
# or a protocol fixes (context-manager __aexit__ arguments, protocol parameters).
# Used by scripts/test.sh and tests/test_repo_hygiene.py.
exc_type  # noqa: B018, F821
tb  # noqa: B018, F821
