"""The insights tier: the CRM team's questions answered from an audit database."""
