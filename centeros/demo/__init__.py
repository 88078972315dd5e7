"""Demo data for a new installation, made through the platform's services."""
