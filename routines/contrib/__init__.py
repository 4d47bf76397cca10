"""Optional integrations with other Django apps, each enabled by adding it to INSTALLED_APPS."""
