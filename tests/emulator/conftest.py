"""The emulator tier: the bundled Zoho CRM emulator answered over real HTTP, no tap involved."""
