"""Singer target that keeps an SQLite audit trail."""
