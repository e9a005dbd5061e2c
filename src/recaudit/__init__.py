"""recaudit: audit the quality of children's social care case records."""

__version__ = "0.1.0"
