"""audit: an accountable history of every change to data, in one SQLite file.

The Python API (README: Python API): `audit_cli.open(path)` gives a `Store`, through which an application records
and reads its audit trail as the `audit` command does; every error is an `AuditError`.

    import audit_cli

    with audit_cli.open("audit.db") as store:
        store.record("update", "articles", "42", data={"status": "published"}, user="alice")
"""

__version__ = "0.1.0"

# Where each public name lives. Imported when first used, so that `import audit_cli` (which every `audit` command
# does) stays as cheap as the version string.
_EXPORTS = {
    "open": "api.store", "Store": "api.store", "verify_file": "api.upkeep",
    "Activity": "models", "Revision": "models",
    **dict.fromkeys(("Anchor", "BlameEntry", "Change", "Count", "Exported", "HistoryEntry", "Imported", "Pruned",
                     "Recorded", "Retention", "RevertPlan", "Scope", "StoreInfo", "Verification", "Version",
                     "VersionComparison"), "api.results"),
    **dict.fromkeys(("AuditError", "UsageError", "NotFound", "Conflict", "StoreError", "Damaged", "CannotCheck",
                     "Tampered", "UpgradeRefused", "InvalidLine", "AnchorError", "BadSignature", "ExitCode"), "errors"),
}
__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'audit_cli' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
