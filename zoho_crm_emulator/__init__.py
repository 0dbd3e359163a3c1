"""A local Zoho CRM emulator for offline runs and tests."""
