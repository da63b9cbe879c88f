"""The library: `audit_cli.open()` and the `Store` it returns (store.py), the typed records it gives back
(results.py), and the checks behind it (checks.py). `audit_cli` exports all of it; import from there."""
